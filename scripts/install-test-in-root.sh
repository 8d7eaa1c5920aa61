#!/usr/bin/env bash
# Run by scripts/install-test.sh INSIDE the clean Debian root where the package was installed (as /tmp/checks.sh),
# with a tiny synthetic pair in /var/lib/aio/models and HumanEval's sample at /tmp/HumanEval.jsonl.
# AIO_BUILD_TREE / AIO_SOURCE_TREE: where the build and the checkout are on the host - they must not exist here.
set -euo pipefail
fail() { echo "FAILED: $*"; exit 1; }
ok() { echo "ok   $*"; }
port=18090

for tree in "$AIO_BUILD_TREE" "$AIO_SOURCE_TREE"; do
  [ ! -e "$tree" ] || fail "$tree is visible in the root: this would not prove that nothing is read from it"
done
ok "the build tree ($AIO_BUILD_TREE) and the checkout do not exist here"

version=$(aio --version)
[[ "$version" =~ ^aio\ [0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{7,} ]] || fail "aio --version printed '$version'"
ok "aio --version: $version"
[ "$(dpkg-query -W -f='${Version}' aio)" = "$(echo "$version" | cut -d' ' -f2)" ] || fail "the package's version is not aio's"
ok "the package's version is aio's ($(dpkg-query -W -f='${Version}' aio))"
for f in /usr/bin/aio /usr/share/aio/probe/aio-probe.bin /usr/share/aio/tokenizer/tokenizer.json \
         /usr/share/aio/configs/policies.yaml /usr/share/aio/grafana/aio.json /usr/share/aio/prometheus/prometheus.yml \
         /etc/aio/aio.yaml /etc/default/aio /usr/lib/systemd/system/aio.service /usr/share/man/man1/aio.1.gz \
         /usr/share/doc/aio/copyright /usr/share/doc/aio/CHANGELOG.md; do
  [ -f "$f" ] || fail "the package did not install $f"
done
ok "the package's files are in place (binary, probe, tokenizer, configs, unit, man page, docs)"
getent passwd aio > /dev/null || fail "no aio user"
[ "$(stat -c '%U:%G %a' /etc/default/aio)" = "root:aio 640" ] || fail "/etc/default/aio is $(stat -c '%U:%G %a' /etc/default/aio)"
ok "the service's user exists; its settings file (the API key) is root:aio 640"
if grep -qa -- "$AIO_BUILD_TREE/" /usr/bin/aio; then fail "/usr/bin/aio names a path in the build tree"; fi
ok "/usr/bin/aio names no path in the build tree"

as_aio() { setpriv --reuid=aio --regid=aio --init-groups -- "$@"; }
# setpriv execs aio (no shell in between), so the SIGTERM below reaches aio itself, as systemd's would.
setpriv --reuid=aio --regid=aio --init-groups -- aio serve --small /var/lib/aio/models/small.gguf --large /var/lib/aio/models/large.gguf --port $port \
  --slots 1 > /tmp/serve.log 2>&1 &
pid=$!
# Ready when its own log says so (not when the port answers: that could be another process's).
for _ in $(seq 120); do grep -q "aio serve: ready" /tmp/serve.log && break; kill -0 $pid || break; sleep 0.5; done
grep -q "aio serve: ready" /tmp/serve.log || fail "aio serve did not start: $(tail -5 /tmp/serve.log)"
curl -fsS "http://127.0.0.1:$port/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"model": "aio", "messages": [{"role": "user", "content": "Write a Python function that adds two numbers."}],
       "max_tokens": 8}' -D /tmp/chat.headers > /tmp/chat.json || fail "the chat request failed: $(tail -5 /tmp/serve.log)"
python3 - <<'PY' || fail "the chat answer is not an OpenAI chat completion: $(head -c 300 /tmp/chat.json)"
import json
j = json.load(open("/tmp/chat.json"))
assert j["object"] == "chat.completion" and j["choices"][0]["message"]["role"] == "assistant", j
PY
grep -qi '^x-aio-model: small' /tmp/chat.headers || fail "a short code request was not routed to the small model"
ok "aio serve --small --large (as aio): a chat request answered, routed to $(grep -i '^x-aio-model' /tmp/chat.headers | tr -d '\r' | cut -d' ' -f2)"
curl -fsS "http://127.0.0.1:$port/dashboard" > /tmp/dashboard.html || fail "/dashboard did not answer"
grep -qi '<html' /tmp/dashboard.html || fail "/dashboard is not a page: $(head -c 200 /tmp/dashboard.html)"
ok "/dashboard answers"
kill -TERM $pid
rc=0
wait $pid || rc=$?
[ $rc -eq 0 ] || fail "aio serve exited with $rc on SIGTERM: $(tail -5 /tmp/serve.log)"
grep -q "aio serve: stopped" /tmp/serve.log || fail "no clean stop: $(tail -3 /tmp/serve.log)"
ok "SIGTERM: running requests drained, exit 0"

out=$(cd /tmp && as_aio aio score --task humaneval --data /tmp/HumanEval.jsonl --reference 2>&1) ||
  fail "aio score failed: $out"
echo "$out" | grep -q "humaneval: 8 / 8 correct" || fail "aio score: $(echo "$out" | tail -3)"
ok "aio score ran HumanEval's tests in its sandbox: $(echo "$out" | grep -o 'sandbox: .*' | head -1)"

as_aio aio route --config /etc/aio/aio.yaml -p "Why is the sky blue?" > /tmp/route.txt || fail "/etc/aio/aio.yaml does not load"
ok "/etc/aio/aio.yaml loads and routes: $(grep '^route' /tmp/route.txt | tr -s ' ')"
man -w aio > /dev/null 2>&1 || [ -f /usr/share/man/man1/aio.1.gz ] || fail "no man page"
zcat /usr/share/man/man1/aio.1.gz | grep -q 'aio serve' || fail "the man page does not describe aio serve"
ok "the man page is there"
