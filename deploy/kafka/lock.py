"""Re-pin ``streams/data/kafka-jars.lock`` from ``pom.xml`` (needs Maven and the network).

Resolves the broker's runtime classpath with Maven, then writes one line per jar: its
path under a Maven repository and its SHA-256. ``finsent broker`` with
FINSENT_BROKER_KIND=kafka downloads exactly those files and checks every digest, so
a user needs neither Maven nor trust in the mirror.

    python deploy/kafka/lock.py
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = HERE.parents[1] / "streams" / "data" / "kafka-jars.lock"
COORDINATE = re.compile(r"^\s+([\w.\-]+):([\w.\-]+):jar:([\w.\-]+):(compile|runtime)")


def resolve(out: Path) -> list[tuple[str, str, str]]:
    """(group, artifact, version) of every runtime jar, copied into ``out``."""
    listing = out / "deps.txt"
    mvn = ["mvn", "-q", "-f", str(HERE / "pom.xml")]
    subprocess.run(
        [*mvn, "dependency:list", "-DincludeScope=runtime", f"-DoutputFile={listing}"], check=True
    )
    subprocess.run(
        [
            *mvn,
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={out}",
        ],
        check=True,
    )
    found = [m.groups()[:3] for m in map(COORDINATE.match, listing.read_text().splitlines()) if m]
    return sorted(found)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        jars = resolve(Path(tmp))
        lines = []
        for group, artifact, version in jars:
            name = f"{artifact}-{version}.jar"
            digest = hashlib.sha256((Path(tmp) / name).read_bytes()).hexdigest()
            lines.append(f"{group.replace('.', '/')}/{artifact}/{version}/{name} {digest}")
    kafka = next(v for g, a, v in jars if (g, a) == ("org.apache.kafka", "kafka_2.13"))
    header = [
        f"# Apache Kafka {kafka}: the broker's runtime jars, pinned by SHA-256.",
        "# Written by deploy/kafka/lock.py from deploy/kafka/pom.xml; do not edit by hand.",
        f"kafka-version {kafka}",
    ]
    LOCK.write_text("\n".join(header + lines) + "\n")
    print(f"{LOCK}: {len(lines)} jars, Kafka {kafka}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
