"""HTTP client for a running `turbodiffusion webui` server (docs/webui.md), Python stdlib only.

Everything the ComfyUI nodes do over the network lives here, so it is tested without ComfyUI.
"""
import json
import time
import urllib.error
import urllib.parse
import urllib.request


class TurboDiffusionError(RuntimeError):
    """A request the server refused or could not be made; the message says which and why."""

    def __init__(self, message, status=None, field=None):
        super().__init__(message)
        self.status = status
        self.field = field


class Client:
    """One server: `url` such as http://127.0.0.1:7860 (a trailing / or ?token=… is accepted, as
    `turbodiffusion webui` prints it), `token` sent as `Authorization: Bearer` when set."""

    def __init__(self, url, token="", timeout=60.0):
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise TurboDiffusionError(f"server URL must look like http://127.0.0.1:7860, got {url!r}", field="server_url")
        query = urllib.parse.parse_qs(parts.query)
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/api/v1"
        self.token = (token or "").strip() or (query.get("token") or [""])[0]
        self.timeout = timeout

    def _request(self, method, path, body=None, content_type=None):
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            message, field = raw.decode("utf-8", "replace").strip() or e.reason, None
            try:
                error = json.loads(raw)["error"]
                message, field = error["message"], error.get("field")
            except (ValueError, KeyError, TypeError):
                pass
            hint = " (set the token the server printed in its URL)" if e.code == 401 else ""
            raise TurboDiffusionError(f"{method} {path}: HTTP {e.code}: {message}{hint}", status=e.code, field=field) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise TurboDiffusionError(f"cannot reach the TurboDiffusion server at {self.base}: {reason} "
                                      "(is `turbodiffusion webui` running there?)") from None

    def _json(self, method, path, payload=None):
        body = None if payload is None else json.dumps(payload).encode("utf-8")
        _, _, raw = self._request(method, path, body, "application/json" if body is not None else None)
        try:
            return json.loads(raw)
        except ValueError:
            raise TurboDiffusionError(f"{method} {path}: the server answered something that is not JSON") from None

    def health(self):
        return self._json("GET", "/health")

    def models(self):
        return self._json("GET", "/models")

    def upload_png(self, png_bytes):
        """Stores an image for I2V; returns its upload id."""
        _, _, raw = self._request("POST", "/uploads", png_bytes, "image/png")
        return json.loads(raw)["id"]

    def submit(self, job):
        """Queues a job (a dict with the API's field names); returns its id."""
        return self._json("POST", "/jobs", job)["id"]

    def job(self, job_id):
        return self._json("GET", f"/jobs/{job_id}")

    def cancel(self, job_id):
        try:
            self._json("DELETE", f"/jobs/{job_id}")
        except TurboDiffusionError as e:
            if e.status != 409:   # 409: it had already finished
                raise

    def wait(self, job_id, on_progress=None, interrupted=None, poll_seconds=0.25):
        """Polls the job until it ends and returns its final record. `on_progress(fraction, record)`
        sees every change; `interrupted()` returning true cancels the job and raises."""
        last = None
        while True:
            record = self.job(job_id)
            progress = record.get("progress") or {}
            state = (record["status"], progress.get("stage"), progress.get("step"), progress.get("fraction"))
            if on_progress and state != last:
                on_progress(float(progress.get("fraction") or 0.0), record)
            last = state
            if record["status"] in ("succeeded", "failed", "cancelled"):
                return record
            if interrupted and interrupted():
                self.cancel(job_id)
                raise TurboDiffusionError(f"job {job_id} was cancelled: the workflow was interrupted")
            time.sleep(poll_seconds)

    def frame_png(self, job_id, index):
        _, content_type, raw = self._request("GET", f"/jobs/{job_id}/frames/{index}")
        if not content_type.startswith("image/png"):
            raise TurboDiffusionError(f"frame {index} of job {job_id}: expected image/png, got {content_type!r}")
        return raw

    def download_output(self, name, path):
        """Writes the MP4 `name` to `path` (through a temporary file, renamed into place)."""
        import os
        _, _, raw = self._request("GET", f"/outputs/{urllib.parse.quote(name)}")
        tmp = f"{path}.part-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return path


def job_fields(task, prompt, model="", num_steps=4, seed=None, resolution="default", aspect_ratio="16:9", size="",
               num_frames=0, attention_type="sagesla", sla_topk=0.0, quant_linear=False, sigma_max=0.0, ode=False,
               num_samples=1, image=None, boundary=0.9, adaptive_resolution=False):
    """The JSON body of `POST /jobs` from the nodes' controls. Controls left at their "default"
    value (0, "", "default") are omitted so the server applies the model's defaults, as the web UI does."""
    if not prompt or not prompt.strip():
        raise TurboDiffusionError("prompt: must not be empty", field="prompt")
    job = {"task": task, "prompt": prompt, "num_steps": int(num_steps), "aspect_ratio": aspect_ratio,
           "attention_type": attention_type, "quant_linear": bool(quant_linear), "ode": bool(ode),
           "num_samples": int(num_samples), "frames": True}
    if model:
        job["model"] = model
    if seed is not None:
        job["seed"] = int(seed)
    if resolution and resolution != "default":
        job["resolution"] = resolution
    if size and size.strip():
        job["size"] = size.strip()
    if num_frames:
        job["num_frames"] = int(num_frames)
    if sla_topk:
        job["sla_topk"] = float(sla_topk)
    if sigma_max:
        job["sigma_max"] = float(sigma_max)
    if task == "i2v":
        job["boundary"] = float(boundary)
        job["adaptive_resolution"] = bool(adaptive_resolution)
        if image is not None:
            job["image"] = image
    return job
