"""What one long message costs Rasa's event loop: NLU time by message length.

    python -m bench.long_messages                        # 100 … 100,000 characters
    python -m bench.long_messages --lengths 2000 100000 --repeats 5
    python -m bench.long_messages --unfixed               # without addons.rasa_fixes

Parses random Chinese text (the worst case for jieba's dictionary look-ups,
the kind a pasted document or a flood sends) with the trained model
(`make train`) through `Agent.parse_message`, the path the server takes, with
the Rasa fixes a server loads (`addons.rasa_fixes`: NLU analyses only the first
`MAX_ANALYSED_CHARS` characters). Each length is parsed `--repeats` times in
turn, lengths interleaved, and the median is reported with its ratio to the
`MAX_ANALYSED_CHARS`-long message in the same run: absolute times drift on a
shared machine, ratios do not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import time

from cloudpick_home import PROJECT

DEFAULT_LENGTHS = (100, 2_000, 5_000, 10_000, 20_000, 100_000)


def chinese_text(length: int, seed: int) -> str:
    """Random CJK unified ideographs: no two runs of the benchmark favour a cache."""
    rng = random.Random(seed)
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(length))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--model", default=str(PROJECT / "models" / "cloudpick.tar.gz"))
    parser.add_argument("--lengths", type=int, nargs="+", default=list(DEFAULT_LENGTHS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--unfixed", action="store_true", help="measure Rasa without addons.rasa_fixes"
    )
    args = parser.parse_args()

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    from addons import analysis, rasa_fixes

    if not args.unfixed:
        rasa_fixes.apply()  # before the model loads: the graph binds its functions then
    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)
    agent = Agent.load(args.model)
    asyncio.run(agent.parse_message("你好"))  # loads lazily built parts

    baseline = analysis.MAX_ANALYSED_CHARS
    lengths = sorted(set(args.lengths) | {baseline})
    seconds: dict[int, list[float]] = {length: [] for length in lengths}
    for repeat in range(args.repeats):
        for length in lengths:
            text = chinese_text(length, seed=repeat * 1_000_003 + length)
            started = time.perf_counter()
            asyncio.run(agent.parse_message(text))
            seconds[length].append(time.perf_counter() - started)

    medians = {length: statistics.median(times) for length, times in seconds.items()}
    print(f"{'characters':>10}  {'median s':>9}  {'× ' + str(baseline):>8}")
    for length in lengths:
        print(f"{length:>10}  {medians[length]:>9.3f}  {medians[length] / medians[baseline]:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
