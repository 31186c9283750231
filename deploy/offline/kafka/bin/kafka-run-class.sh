#!/bin/sh
# kafka-run-class.sh CLASS [ARGS...]: a JVM on the image's jars, as Kafka's own script
# runs one (KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS, KAFKA_LOG4J_OPTS, KAFKA_OPTS;
# a tool's heap is 256 MiB unless KAFKA_HEAP_OPTS says otherwise).
set -eu
class=$1
shift
# shellcheck disable=SC2086  # the *_OPTS are word lists
exec java ${KAFKA_HEAP_OPTS:--Xmx256M} \
    ${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true} \
    ${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties} \
    ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*' "$class" "$@"
