#!/bin/sh
# The stand-in's /etc/kafka/docker/run: as the apache/kafka image, every KAFKA_ variable
# that is a broker property becomes a line of server.properties (KAFKA_FOO_BAR=x ->
# foo.bar=x, with __ -> _ and ___ -> -), the log directories are formatted with
# CLUSTER_ID on the first start (a formatted one is kept as it is), then the broker runs
# in the foreground. Kafka 4: KRaft only, Log4j 2 only.
set -eu
props=/opt/kafka/config/server.properties
env | grep '^KAFKA_' \
    | grep -Ev '^KAFKA_(VERSION|HEAP_OPTS|OPTS|LOG4J_OPTS|JMX_OPTS|JVM_PERFORMANCE_OPTS|GC_LOG_OPTS|LOG4J_ROOT_LOGLEVEL|LOG4J_LOGGERS|TOOLS_LOG4J_LOGLEVEL|JMX_HOSTNAME)=' \
    | sort | while IFS='=' read -r name value; do
        key=$(printf '%s' "${name#KAFKA_}" | tr 'A-Z' 'a-z' \
            | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
        printf '%s=%s\n' "$key" "$value"
    done > "$props"
cat "$props"
case "${CLUSTER_ID:-}" in
    "" | -*) echo "CLUSTER_ID must be set (22 characters of base64url, not starting with -)" >&2; exit 2 ;;
esac
/opt/kafka/bin/kafka-storage.sh format --ignore-formatted --cluster-id "$CLUSTER_ID" --config "$props"
# the broker's defaults, as kafka-server-start.sh has them
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}"
export KAFKA_LOG4J_OPTS="${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties}"
exec /opt/kafka/bin/kafka-run-class.sh kafka.Kafka "$props"
