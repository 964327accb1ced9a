"""A tiny Python web app for the test images: answers GET / with its version and two env vars."""

SERVER_PY = """\
import http.server, os
VERSION = open("version.txt").read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{VERSION} {os.environ.get('GREETING', '-')} {os.environ.get('PORT')}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""
