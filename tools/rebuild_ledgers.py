"""Rebuild the reporting service's ledgers and trouble spans from its stored records: after an
upgrade from a version that kept none, or a change to what they count.

    python -m tools.rebuild_ledgers

Reads MONGODB_URL, MONGODB_DB_PREFIX and COUNTY_FILE as the service does. Run it while no
reporting instance is storing records (stop them, or pause their consumers): it rewrites every
ledger document and span whole. Prints the documents written per ledger and the spans.
"""

from __future__ import annotations

import asyncio
import sys

from services.reporting.repository import MongoReportingRepository
from services.reporting.settings import ReportingSettings
from shared.mongo import make_client, service_database
from shared.provisioning import load_county


async def rebuild(settings: ReportingSettings) -> dict[str, int]:
    county = load_county(settings.county_file)
    client = make_client(settings, app_name="rebuild-ledgers")
    try:
        repo = MongoReportingRepository(
            service_database(client, settings, "reporting"),
            zone=county.zone,
            townships={school.school_id: school.township for school in county.schools},
        )
        await repo.ensure_indexes()
        return await repo.rebuild_ledgers()
    finally:
        await client.close()


def main() -> None:
    written = asyncio.run(rebuild(ReportingSettings()))
    for ledger, documents in written.items():
        print(f"{ledger}: {documents:,} documents", file=sys.stdout)


if __name__ == "__main__":
    main()
