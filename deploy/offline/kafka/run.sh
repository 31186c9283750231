#!/bin/sh
# KAFKA_FOO_BAR=x -> foo.bar=x (as in apache/kafka: __ -> _, ___ -> -), then format once and run.
set -euf  # -f: the classpath wildcard is for java, not the shell
props=/opt/kafka/config/server.properties
env | grep '^KAFKA_' | grep -v '^KAFKA_HEAP_OPTS=' | while IFS='=' read -r name value; do
    key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
    printf '%s=%s\n' "$key" "$value"
done > "$props"
cat "$props"
java="java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms256m} -Dlog4j.configuration=file:/opt/kafka/config/log4j.properties -cp /opt/kafka/libs/*"
$java kafka.tools.StorageTool format --ignore-formatted -t "${CLUSTER_ID:?}" -c "$props"
exec $java kafka.Kafka "$props"
