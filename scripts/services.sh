#!/usr/bin/env bash
# Start the local services the tests talk to, where they are not already running
# (PostgreSQL on 127.0.0.1:5432, Redis on :6379, Mosquitto on :1883). Swift (S3) is
# started by the test fixtures themselves, on a loopback port of their own.
set -uo pipefail
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 50); do up "$1" && return 0; sleep 0.2; done; echo "services: $2 did not come up on 127.0.0.1:$1" >&2; return 1; }

if ! up 5432; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  wait_up 5432 PostgreSQL
fi
if ! up 6379; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_up 6379 Redis
fi
if ! up 1883; then
  echo "services: starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  wait_up 1883 Mosquitto
fi
exit 0
