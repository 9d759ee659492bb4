import base64, json, subprocess, sys, time, os, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

port, keyfile, certfile, policyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
policy = json.load(open(policyfile))
refresh = dict(policy.get("refresh_tokens", {}))
lock = threading.Lock()
pem = open(certfile).read()
der_b64 = "".join(l for l in pem.splitlines() if "-----" not in l)

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def sign(data):
    p = subprocess.run(["openssl", "dgst", "-sha256", "-sign", keyfile], input=data, capture_output=True, check=True)
    return p.stdout

def log(line):
    with lock:
        with open(policy["log"], "a") as f: f.write(line + "\n")

def issue(user, scopes, service):
    access = []
    for s in scopes:
        parts = s.split(":")
        if len(parts) != 3 or parts[0] != "repository": continue
        wanted = parts[2].split(",")
        allowed = [a for a in wanted if a == "pull" or (a == "push" and user in policy["pushers"])]
        access.append({"type": "repository", "name": parts[1], "actions": allowed})
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5c": [der_b64]}
    claims = {"iss": "ociforge-test-issuer", "sub": user or "", "aud": service,
              "exp": now + policy["expires_in"], "nbf": now - 10, "iat": now, "jti": b64url(os.urandom(12)), "access": access}
    signing = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
    return signing.decode() + "." + b64url(sign(signing)), now

class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        form = parse_qs(self.rfile.read(n).decode())
        if not policy.get("oauth", True):
            log("POST unsupported")
            self.reply(405, {"details": "method not allowed"}); return
        grant = form.get("grant_type", [""])[0]
        client = form.get("client_id", [""])[0]
        if grant != "refresh_token" or not client:
            log("POST bad-request grant=%s client=%s" % (grant, client))
            self.reply(400, {"error": "unsupported_grant_type"}); return
        with lock:
            user = refresh.get(form.get("refresh_token", [""])[0])
        if user is None:
            log("POST invalid-grant")
            self.reply(400, {"error": "invalid_grant", "error_description": "unknown refresh token"}); return
        scopes = " ".join(form.get("scope", [])).split()
        token, now = issue(user, scopes, form.get("service", [""])[0])
        new_refresh = "rt-" + b64url(os.urandom(9))
        with lock: refresh[new_refresh] = user
        log("POST grant=refresh_token client=%s user=%s" % (client, user))
        self.reply(200, {"access_token": token, "expires_in": policy["expires_in"], "refresh_token": new_refresh,
                         "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})
    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            with lock: by_refresh = refresh.get(pw) == name
            if policy["users"].get(name) != pw and not by_refresh:
                log("GET rejected user=%s" % name)
                self.send_response(401); self.send_header("Content-Type", "application/json"); self.end_headers()
                self.wfile.write(b'{"details":"invalid username or password"}'); return
            user = name
        log("GET user=%s" % (user or ""))
        token, now = issue(user, q.get("scope", []), q.get("service", [""])[0])
        key = "access_token" if user is None else "token"
        self.reply(200, {key: token, "expires_in": policy["expires_in"]})

ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
