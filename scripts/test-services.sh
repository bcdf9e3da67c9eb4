#!/usr/bin/env bash
# Make sure the machine's PostgreSQL and Redis are up when they are installed but stopped, and that
# Chromium is there for the browser tests.
# Tests use THOTIS_TEST_DATABASE_URL / THOTIS_TEST_REDIS_URL when set, else these servers on
# 127.0.0.1, else (see tests/conftest.py) the embedded ones from pip wheels.
set -uo pipefail
if [ -z "${THOTIS_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
      echo "starting the local PostgreSQL …"
      for version in /etc/postgresql/*; do
        pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start || true
      done
      for _ in $(seq 1 20); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
    fi
  fi
fi
if [ -z "${THOTIS_TEST_REDIS_URL:-}" ] && command -v redis-server >/dev/null 2>&1; then
  if ! (command -v redis-cli >/dev/null 2>&1 && redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1); then
    echo "starting the local Redis …"
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    sleep 0.5
  fi
fi
# The browser tests drive Debian's Chromium (a browser a test tool downloads cannot be fetched here).
if [ -z "${THOTIS_TEST_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Chromium for the browser tests (apt-get install -y chromium) …"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 \
      || (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1) \
      || echo "could not install Chromium: the browser tests will fail (set THOTIS_TEST_CHROMIUM to a Chromium binary)"
  else
    echo "Chromium is not installed: the browser tests will fail (apt-get install chromium, or set THOTIS_TEST_CHROMIUM)"
  fi
fi
exit 0
