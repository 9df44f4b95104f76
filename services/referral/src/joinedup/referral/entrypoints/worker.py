"""The referral worker process: ``joinedup run referral``, or
``python -m joinedup.referral.entrypoints.worker``.

Settings come from the environment (``KAFKA_BOOTSTRAP_SERVERS``, ``JOINEDUP_REFERRAL_*``). SIGTERM or SIGINT
stops it cleanly (the current batch commits, the relays publish what is left); a kill -9 loses nothing either.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from joinedup.referral.bootstrap import ReferralSettings, build_runtime

log = logging.getLogger("joinedup.referral.worker")


async def serve(settings: ReferralSettings | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runtime = build_runtime(settings)
    log.info("referral worker starting (group %s)", runtime.config.group)
    await runtime.run(stop)
    log.info("referral worker stopped after %d records", runtime.processed)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("aiokafka.consumer.group_coordinator").setLevel(logging.INFO)
    asyncio.run(serve())


if __name__ == "__main__":
    main()
