#!/bin/sh
# The finsent image's entry point: secrets from files, then the command.
#
# For each variable NAME_FILE whose NAME is a secret (PGPASSWORD, or a name ending in
# _SECRET, _PASSWORD, _TOKEN or _URL: a webhook's URL often is one), NAME is set to the
# content of the file NAME_FILE names (a compose `secrets:` file under /run/secrets),
# its trailing newline dropped, and NAME_FILE is unset. So a secret reaches the process
# that needs it without being in the container's configuration (`docker inspect` shows
# the path, not the value). Setting both NAME and NAME_FILE is an error, as in the
# official postgres image. Other *_FILE variables (FINSENT_FEEDS_FILE: a path finsent
# reads) are left alone.
#
# The database password: docker-compose.yml gives the finsent services a URL without one
# and PGPASSWORD_FILE; libpq (psycopg) takes the password from PGPASSWORD.
set -eu

for assignment in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
    name=$assignment
    case "$name" in
        PGPASSWORD | *_SECRET | *_PASSWORD | *_TOKEN | *_URL) ;;
        *) continue ;;
    esac
    eval "path=\${${name}_FILE}"
    eval "current=\${${name}:-}"
    if [ -n "$current" ]; then
        echo "finsent-entrypoint: both $name and ${name}_FILE are set; set one" >&2
        exit 2
    fi
    if [ ! -r "$path" ]; then
        echo "finsent-entrypoint: ${name}_FILE=$path: no such file, or not readable by uid $(id -u)" >&2
        exit 2
    fi
    value=$(cat "$path")  # $(...) drops the trailing newline(s)
    export "$name=$value"
    unset "${name}_FILE"
done

exec "$@"
