"""`python -m bench [name ...]`: run the benchmarks (bench/<name>.py, each with main()).

Each benchmark runs in a process of its own: each sets up Django, its own Kafka and, for
some, worker processes sharing its database, which one process cannot do twice.
"""

import pkgutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in {"common", "__main__"}
    )
    failed = []
    for name in names:
        print(f"== bench {name}", flush=True)
        code = subprocess.call([sys.executable, "-c", f"import bench.{name} as b; b.main()"])
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
