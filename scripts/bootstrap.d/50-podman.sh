# Containers (issue 5): the tests build the generated Dockerfile and run the image and the
# compose stack with podman, as root, without any registry. runc is the OCI runtime podman
# is set to use here, debootstrap makes the builder stand-in's root filesystem, netavark + aardvark-dns
# give compose networks name resolution (netavark drives iptables), catatonit is podman's --init. file and binutils
# (readelf) check that the image's binary is static; tzdata and ca-certificates are copied
# into the runtime stand-in. podman-compose is the compose runner under test.
APT_PACKAGES+=(
  podman runc conmon netavark aardvark-dns iptables catatonit slirp4netns uidmap fuse-overlayfs
  debootstrap file binutils tzdata ca-certificates nginx openssl
)
PIP_PACKAGES+=(
  "podman-compose==1.6.0"
)
POST_INSTALL+=(podman_settings)

# Two settings podman needs on this kind of machine, merged into containers.conf without
# touching anything else in it: no default ulimits (setting them is refused in this
# sandbox) and runc as the OCI runtime.
podman_settings() {
  local conf=/etc/containers/containers.conf
  [ "$(id -u)" -eq 0 ] || { log "not root: leaving $conf alone"; return 0; }
  mkdir -p "$(dirname "$conf")"
  python3 - "$conf" <<'PY'
import re, sys
from pathlib import Path

path = Path(sys.argv[1])
want = {"containers": ("default_ulimits", "[]"), "engine": ("runtime", '"runc"')}
old = path.read_text() if path.exists() else ""
out, section, done = [], None, set()
header = re.compile(r"^\s*\[([A-Za-z0-9_.-]+)\]")


def finish(sec):
    # The section ends without the key: add it after the section's last line.
    if sec in want and sec not in done:
        while out and not out[-1].strip():
            out.pop()
        out.extend([f"{want[sec][0]} = {want[sec][1]}", ""])
        done.add(sec)


for line in old.splitlines():
    m = header.match(line)
    if m:
        finish(section)
        section = m.group(1)
    elif section in want and re.match(rf"^\s*{want[section][0]}\s*=", line):
        if section not in done:  # the first definition takes our value
            out.append(f"{want[section][0]} = {want[section][1]}")
            done.add(section)
        continue  # any later duplicate would be invalid TOML: drop it
    out.append(line)
finish(section)
for sec, (key, value) in want.items():
    if sec not in done:
        if out and out[-1].strip():
            out.append("")
        out += [f"[{sec}]", f"{key} = {value}"]
text = "\n".join(out).rstrip("\n") + "\n"
if text != old:
    path.write_text(text)
    print(f"[bootstrap] updated {path}", file=sys.stderr)
PY
}
