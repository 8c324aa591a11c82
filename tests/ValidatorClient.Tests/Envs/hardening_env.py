"""Tries, from inside its container, each thing the hardened profile forbids, and reports what the OS answered."""
import errno
import os
import resource
import socket
import subprocess


def _failure(e):
    return {"ok": False, "errno": e.errno, "error": errno.errorcode.get(e.errno, str(e.errno)), "message": str(e)}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


class Actor:
    def write_file(self, path):
        """Creates (or truncates) a file and writes a line to it."""
        try:
            with open(path, "w") as f:
                f.write("probe\n")
            return {"ok": True}
        except OSError as e:
            return _failure(e)

    def fill(self, path, max_mb):
        """Writes 1 MiB blocks to a file until the OS refuses or max_mb are written; removes the file."""
        written = 0
        block = b"x" * (1 << 20)
        try:
            with open(path, "wb") as f:
                while written < max_mb:
                    f.write(block)
                    f.flush()
                    written += 1
            return {"ok": True, "mb": written}
        except OSError as e:
            return dict(_failure(e), mb=written)
        finally:
            try:
                os.remove(path)
            except OSError:
                pass

    def spawn(self, count):
        """Starts up to count sleeping processes until the OS refuses one; stops them all again."""
        children = []
        result = {"ok": True}
        try:
            for _ in range(count):
                children.append(subprocess.Popen(["sleep", "60"]))
        except OSError as e:
            result = _failure(e)
        finally:
            for child in children:
                child.kill()
            for child in children:
                child.wait()
        result["started"] = len(children)
        return result

    def shout(self, mb):
        """Prints `mb` MiB to stdout in lines of 1 KiB (a container that logs without end)."""
        import sys
        line = "x" * 1023 + "\n"
        for _ in range(mb * 1024):
            sys.stdout.write(line)
        sys.stdout.flush()
        return {"ok": True}

    def raw_socket(self):
        """Opens a raw ICMP socket (needs CAP_NET_RAW)."""
        try:
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
            return {"ok": True}
        except OSError as e:
            return _failure(e)

    def chown(self, path):
        """Creates a file and gives it to uid/gid 1 (needs CAP_CHOWN)."""
        try:
            with open(path, "w") as f:
                f.write("x")
            os.chown(path, 1, 1)
            return {"ok": True}
        except OSError as e:
            return _failure(e)

    def mknod(self, path):
        """Creates a character device node (needs CAP_MKNOD)."""
        try:
            os.mknod(path, 0o600 | 0o020000, os.makedev(1, 3))
            return {"ok": True}
        except OSError as e:
            return _failure(e)

    def status(self):
        """The process's identity, privileges and limits as the kernel shows them."""
        fields = {}
        for line in (_read("/proc/self/status") or "").splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        shell_nofile = subprocess.run(["sh", "-c", "ulimit -n"], capture_output=True, text=True, timeout=10).stdout.strip()
        tmp = [line.split()[3] for line in (_read("/proc/mounts") or "").splitlines() if line.split()[1] == "/tmp"]
        # cgroup v2 files first, then v1's.
        memory = _read("/sys/fs/cgroup/memory.max") or _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        cpu_max = _read("/sys/fs/cgroup/cpu.max")
        if cpu_max is None:
            quota = _read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") or _read("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us")
            period = _read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") or _read("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us")
            cpu_max = f"{quota} {period}"
        pids = _read("/sys/fs/cgroup/pids.max") or _read("/sys/fs/cgroup/pids/pids.max")
        return {
            "uid": os.getuid(),
            "gid": os.getgid(),
            "home": os.environ.get("HOME"),
            "no_new_privs": fields.get("NoNewPrivs"),
            "cap_eff": fields.get("CapEff"),
            "cap_bnd": fields.get("CapBnd"),
            "seccomp": fields.get("Seccomp"),
            "nofile": [soft, hard],
            "shell_nofile": shell_nofile,
            "tmp_mount_options": tmp[0] if tmp else None,
            "memory_max": memory,
            "cpu_max": cpu_max,
            "pids_max": pids,
        }
