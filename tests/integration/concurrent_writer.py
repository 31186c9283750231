"""A separate process that saves overlapping batches, for the concurrency test.

usage: concurrent_writer.py DATABASE_URL START STOP BATCH GO_FILE
Waits until GO_FILE exists, then saves articles START..STOP in batches (shuffled order).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from storage.articles import save_scored_batch
from storage.db import make_engine
from testkit.factories import random_articles


def main() -> None:
    url, start, stop, batch, go = sys.argv[1:6]
    engine = make_engine(url)
    items = random_articles(range(int(start), int(stop)))
    random.Random(int(start)).shuffle(items)
    while not Path(go).exists():
        time.sleep(0.01)
    inserted = 0
    for i in range(0, len(items), int(batch)):
        inserted += len(save_scored_batch(engine, items[i : i + int(batch)]))
    print(inserted)


if __name__ == "__main__":
    main()
