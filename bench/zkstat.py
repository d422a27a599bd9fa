"""Server-side counters for bench/run.py: four-letter words (`cons`, `mntr`, `srvr`) to every server,
and a Kazoo client for the coordinator's own bookkeeping (lock paths created beforehand, cleanup)."""
import logging
import re
import socket

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError

logging.getLogger("kazoo").setLevel(logging.ERROR)  # its reconnection chatter is not ours to report
CONS_LINE = re.compile(r"recved=(\d+).*?sid=0x([0-9a-f]+)")


def four_letter(host, word, timeout=3.0):
    name, port = host.rsplit(":", 1)
    with socket.create_connection((name, int(port)), timeout=timeout) as s:
        s.sendall(word.encode())
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode(errors="replace")


class Tree:
    def __init__(self, hosts):
        self.hosts = [h for h in hosts.split(",") if h]
        self.client = KazooClient(hosts=hosts, timeout=10.0)
        self.client.start(timeout=30)

    def ensure(self, path):
        self.client.ensure_path(path)

    def remove(self, path):
        try:
            self.client.delete(path, recursive=True)
        except NoNodeError:
            pass
        except Exception:  # cleanup is best effort; leftovers are under /zkr-bench only
            pass

    def close(self):
        self.client.stop()
        self.client.close()

    def modes(self):
        out = {}
        for h in self.hosts:
            try:
                m = re.search(r"Mode: (\S+)", four_letter(h, "srvr"))
                out[h] = m.group(1) if m else "?"
            except OSError as e:
                out[h] = "unreachable (%s)" % e
        return out

    def packets(self, sids):
        """Packets received by the servers: from the sessions `sids` only (summed `cons` recved=, which
        other users of the ensemble do not disturb), and in all (summed `mntr` zk_packets_received)."""
        cons = mntr = 0
        for h in self.hosts:
            try:
                for line in four_letter(h, "cons").splitlines():
                    m = CONS_LINE.search(line)
                    if m and m.group(2) in sids:
                        cons += int(m.group(1))
                m = re.search(r"zk_packets_received\s+(\d+)", four_letter(h, "mntr"))
                if m:
                    mntr += int(m.group(1))
            except OSError:
                pass
        return {"cons": cons, "mntr": mntr}

