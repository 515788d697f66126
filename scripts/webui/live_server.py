"""Starting `turbodiffusion webui --model demo` on an ephemeral loopback port for the scripts here."""
import subprocess
import sys


def start_server(binary, output_dir, *extra):
    """The server process and the URL it printed first (exits the script if it printed none)."""
    proc = subprocess.Popen([binary, "webui", "--model", "demo", "--device", "cpu", "--port", "0", "--output_dir", output_dir,
                             *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        sys.exit(f"the server printed no URL (got {url!r})")
    return proc, url
