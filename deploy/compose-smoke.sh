#!/bin/sh
# The compose smoke test (`make compose-smoke`): build the images, start the whole stack
# with the demo profile under a fresh project name, and check the demo end to end:
#
#   1. webhook-echo receives and verifies the demo's `alert.firing` and `alert.resolved`;
#   2. the replay sent every headline, and the demo worker's /metrics counts as stored
#      exactly the articles its database holds (all of them);
#   3. no container exited with an error, restarted or went unhealthy on the way.
#
# Then `down -v` removes the project's containers, networks and volumes (the images stay,
# so a second run builds nothing). Exit 0 and the timings, or 1 with the reason and the
# last log lines of the failing service. Nothing of an existing finsent project is
# touched: the project name is new, .env is not read (a generated env file is), the
# host ports are free ones, the image tag is the smoke test's own.
#
# Settings (environment variables):
#   SMOKE_FILES      compose files, colon-separated (default: the CPU stack,
#                    docker-compose.yml:docker-compose.cpu.yml; docker-compose.yml alone
#                    for the CUDA image on a GPU host)
#   SMOKE_MODEL      a trained model directory to put into the models volume before the
#                    start (its *.json, *.md, *.safetensors); unset: the stack's `train`
#                    service trains one (SMOKE_PROFILE, default quick: about 15 minutes
#                    on two cores; `smoke` takes a minute but its alert is luck)
#   SMOKE_TIMEOUT    seconds from `up` to a verified alert.resolved and the full count
#                    (default 1800; training is inside it)
#   SMOKE_KEEP=1     leave the stack running on success (`docker compose -p NAME down -v`)
#   SMOKE_BUILD=0    do not build: run the images as they are (a rerun, or CI after its
#                    own build step); the build needs about 15 GB of free disk
#   PYTHON_IMAGE     the finsent image's base (build argument), e.g.
#                    finsent-base:bookworm from deploy/offline/build-images.sh where no
#                    image registry is reachable; that script also builds local
#                    stand-ins for apache/kafka and postgres under their public names
#   TORCH_CPU_INDEX_URL, TORCH_INDEX_URL   as in .env.example
#   DEMO_SPEED       the replay's time compression (default 60: six minutes)
set -eu

cd "$(dirname "$0")/.."
root=$(pwd)

files=${SMOKE_FILES:-docker-compose.yml:docker-compose.cpu.yml}
timeout=${SMOKE_TIMEOUT:-1800}
project=finsent-smoke-$(date -u +%Y%m%d%H%M%S)-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/finsent-smoke.XXXXXX")
# the user's own compose settings must not reach this project
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME COMPOSE_ENV_FILES

say() { printf '%s compose-smoke: %s\n' "$(date -u +%H:%M:%S)" "$*"; }
now() { date +%s; }
elapsed() { s=$(($(now) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

free_port() {  # a TCP port nothing listens on now (the kernel's pick)
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
        || echo "$1"
}

command -v docker >/dev/null || { echo "compose-smoke: no docker client" >&2; exit 1; }
docker compose version >/dev/null 2>&1 || { echo "compose-smoke: no docker compose (v2) plugin" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "compose-smoke: the Docker engine does not answer" >&2; exit 1; }

# the project's settings: a fresh password, free host ports, its own image tag
env_file=$work/smoke.env
{
    echo "POSTGRES_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
    echo "KAFKA_HOST_PORT=$(free_port 39092)"
    echo "DASHBOARD_PORT=$(free_port 38501)"
    echo "DEMO_DASHBOARD_PORT=$(free_port 38502)"
    echo "APP_IMAGE=${SMOKE_APP_IMAGE:-finsent:smoke-cuda}"
    echo "APP_CPU_IMAGE=${SMOKE_APP_CPU_IMAGE:-finsent:smoke-cpu}"
    echo "FINSENT_MODEL_FIRST_PROFILE=${SMOKE_PROFILE:-quick}"
    for name in PYTHON_IMAGE TORCH_INDEX_URL TORCH_CPU_INDEX_URL DEMO_SPEED KAFKA_VERSION; do
        eval "value=\${$name:-}"
        [ -z "$value" ] || echo "$name=$value"
    done
} >"$env_file"

compose_files=
old_ifs=$IFS
IFS=:
for f in $files; do compose_files="$compose_files -f $f"; done
IFS=$old_ifs
compose() {  # docker compose on the smoke project (file names without spaces)
    # shellcheck disable=SC2086
    docker compose --project-directory "$root" --env-file "$env_file" -p "$project" \
        $compose_files --profile demo "$@"
}

cleanup() {
    status=$?
    if [ "${SMOKE_KEEP:-}" = 1 ] && [ "$status" = 0 ]; then
        say "left running: docker compose -p $project down -v"
    else
        say "tearing down ($project)"
        t=$(now)
        compose down -v --remove-orphans --timeout 30 >"$work/down.log" 2>&1 \
            || { cat "$work/down.log" >&2; status=1; }
        say "down -v took $(elapsed "$t")"
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {  # fail REASON [SERVICE...]: the reason, the project's state, the last log lines
    echo "compose-smoke: FAILED: $1" >&2
    shift
    compose ps -a >&2 || true
    for service in "$@"; do
        echo "--- last log lines of $service ---" >&2
        compose logs --no-color --tail 40 "$service" >&2 || true
    done
    exit 1
}

started=$(now)
say "project $project, files $files, base image ${PYTHON_IMAGE:-python:3.11-slim-bookworm}"

t=$(now)
if [ "${SMOKE_BUILD:-1}" = 0 ]; then
    build_time=skipped
    say "not building (SMOKE_BUILD=0): the images as they are"
else
    say "building the image"
    # every finsent service runs the one image: build it once (a plain `compose build`
    # exports it once per service: gigabytes of disk each time)
    compose build worker >"$work/build.log" 2>&1 \
        || { tail -40 "$work/build.log" >&2; fail "docker compose build"; }
    build_time=$(elapsed "$t")
    say "built in $build_time"
fi

if [ -n "${SMOKE_MODEL:-}" ]; then
    [ -f "$SMOKE_MODEL/config.json" ] || fail "SMOKE_MODEL=$SMOKE_MODEL holds no config.json"
    say "copying the model $SMOKE_MODEL into the models volume"
    compose run --rm --no-deps --user root -v "$(cd "$SMOKE_MODEL" && pwd):/src:ro" train \
        sh -c 'mkdir -p /models/finsent-sentiment && cp /src/*.json /src/*.md /src/*.safetensors /models/finsent-sentiment/ && chown -R finsent: /models/finsent-sentiment' \
        >"$work/model.log" 2>&1 || { cat "$work/model.log" >&2; fail "copying the model"; }
fi

t_up=$(now)
say "docker compose --profile demo up -d (waits for the first model: trained unless SMOKE_MODEL)"
if ! compose up -d >"$work/up.log" 2>&1; then
    tail -20 "$work/up.log" >&2
    failed=$(compose ps -a --format '{{.Service}} {{.ExitCode}}' | awk '$2 != 0 {print $1}')
    fail "docker compose up" ${failed:-train migrate demo-migrate demo-db}
fi
say "up returned after $(elapsed "$t_up")"

check_containers() {  # fail on an exit != 0, a restart or an unhealthy container
    for id in $(compose ps -a -q); do
        set -- $(docker inspect -f '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{.RestartCount}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' "$id")
        if [ "$2" = exited ] && [ "$3" != 0 ]; then fail "$1 exited with $3" "$1"; fi
        if [ "$4" != 0 ]; then fail "$1 restarted $4 times" "$1"; fi
        if [ "$5" = unhealthy ]; then fail "$1 is unhealthy" "$1"; fi
    done
}

count_in_echo() { compose logs --no-color webhook-echo 2>/dev/null | grep -c "\"type\": \"alert.$1\"" || true; }

stored_metric() {  # the demo worker's finsent_items_total{stage="stored"}, summed
    compose exec -T demo-worker python -c '
import re, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:9108/metrics", timeout=5).read().decode()
print(int(sum(float(v) for v in re.findall(r"(?m)^finsent_items_total\{[^}]*stage=\"stored\"[^}]*\} (\S+)$", text))))
' 2>/dev/null || echo -1
}

articles_in_db() {
    compose exec -T postgres sh -c \
        'psql -U "$POSTGRES_USER" -d "${POSTGRES_DB}_demo" -tAc "SELECT count(*) FROM articles"' \
        2>/dev/null | tr -d '[:space:]' || true
}

deadline=$((t_up + timeout))
fired= resolved= replayed= counted=
while :; do
    check_containers
    if [ -z "$fired" ] && [ "$(count_in_echo firing)" -ge 1 ]; then
        fired=$(elapsed "$t_up")
        say "webhook-echo verified alert.firing ($fired after up)"
    fi
    if [ -z "$resolved" ] && [ "$(count_in_echo resolved)" -ge 1 ]; then
        resolved=$(elapsed "$t_up")
        say "webhook-echo verified alert.resolved ($resolved after up)"
    fi
    if [ -z "$replayed" ]; then
        replayed=$(compose logs --no-color demo-replay 2>/dev/null \
            | sed -n 's/.*replayed \([0-9][0-9]*\) of \([0-9][0-9]*\) items.*/\1 \2/p' | tail -1)
        if [ -n "$replayed" ]; then
            set -- $replayed
            [ "$1" = "$2" ] || fail "the replay sent $1 of $2 items" demo-replay
            replayed=$1
            say "demo-replay sent all $replayed items ($(elapsed "$t_up") after up)"
        fi
    fi
    if [ -n "$replayed" ] && [ -z "$counted" ]; then
        stored=$(stored_metric)
        rows=$(articles_in_db)
        if [ "$stored" = "$replayed" ] && [ "$rows" = "$replayed" ]; then
            counted=$(elapsed "$t_up")
            say "demo-worker /metrics: $stored stored = $rows articles in its database ($counted after up)"
        fi
    fi
    if [ -n "$fired" ] && [ -n "$resolved" ] && [ -n "$counted" ]; then
        break
    fi
    if [ "$(now)" -ge "$deadline" ]; then
        missing=
        [ -n "$fired" ] || missing="$missing alert.firing"
        [ -n "$resolved" ] || missing="$missing alert.resolved"
        [ -n "$replayed" ] || missing="$missing replay-complete"
        [ -n "$counted" ] || missing="$missing stored-count (metric ${stored:-?}, rows ${rows:-?}, replayed ${replayed:-?})"
        fail "timed out after ${timeout}s waiting for:$missing" webhook-echo demo-worker demo-replay train
    fi
    sleep 5
done
check_containers

say "PASSED in $(elapsed "$started"): build $build_time, alert.firing $fired and alert.resolved $resolved after up, all $replayed items stored and counted $counted after up"
