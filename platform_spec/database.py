"""The PostgreSQL database: engine, size, users and backups."""

from __future__ import annotations

import re
from dataclasses import dataclass

from platform_spec.checks import (
    RESERVED_NAMES,
    check_port,
)
from platform_spec.errors import SpecError

# PostgreSQL versions RDS offers that this project supports, as majors and as full versions;
# tests check that aws-cdk-lib knows each one.
POSTGRES_MAJORS = ("16", "17", "18")
POSTGRES_VERSIONS = (
    *(f"16.{minor}" for minor in range(1, 14)),
    *(f"17.{minor}" for minor in range(1, 10)),
    *(f"18.{minor}" for minor in range(1, 4)),
)

_GRAVITON_SIZES = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")
# RDS for PostgreSQL instance classes (without the ``db.`` prefix) this project offers.
DATABASE_INSTANCE_CLASSES = frozenset(
    {
        *(f"t4g.{size}" for size in ("micro", "small", "medium", "large", "xlarge", "2xlarge")),
        *(f"{family}.{size}" for family in ("m6g", "m7g", "m8g", "r6g", "r7g", "r8g") for size in _GRAVITON_SIZES),
    }
)


@dataclass(frozen=True, kw_only=True)
class DatabaseSpec:
    """PostgreSQL on RDS."""

    port: int = 5432
    engine_version: str = "17"
    """PostgreSQL's major alone (``"17"``, one of ``POSTGRES_MAJORS``), which RDS keeps on a
    current minor while ``auto_minor_version_upgrade`` is on; or a full version (``"17.9"``, one
    of ``POSTGRES_VERSIONS``), which holds only with it off: RDS never downgrades, so a full
    version it has upgraded past fails the next deploy that touches the database."""
    auto_minor_version_upgrade: bool = True
    """RDS applies new minor versions in the maintenance window (security fixes come as minors)."""
    instance_class: str = "t4g.micro"
    """RDS instance class without the ``db.`` prefix (Graviton: cheaper per unit of work)."""
    database_name: str = "app"
    allocated_storage_gib: int = 20
    max_allocated_storage_gib: int = 100
    """Storage autoscaling ceiling."""
    backup_retention_days: int = 7
    """RDS automated backups (point-in-time recovery window), 1-35 days."""
    multi_az: bool = False
    deletion_protection: bool = False
    max_connections_alarm: int = 80
    """Connections above which the database alarm fires (keep it under the class's max_connections)."""
    schema: str = "app"
    """The application's schema: owned by the migrator, read and written by the services."""
    migrator_user: str = "migrator"
    """The user migrations sign in as (IAM authentication): DDL in ``schema``, nothing else."""

    @property
    def major_version(self) -> str:
        """PostgreSQL's major version (``"17"``): the parameter group's family, and what the
        bootstrap is tested on."""
        return self.engine_version.split(".")[0]

    def __post_init__(self) -> None:
        check_port("database.port", self.port)
        if self.engine_version not in (*POSTGRES_MAJORS, *POSTGRES_VERSIONS):
            raise SpecError(
                "database.engine_version",
                self.engine_version,
                f"not a supported PostgreSQL version (a major, {POSTGRES_MAJORS[0]} to {POSTGRES_MAJORS[-1]}, "
                f"or a full version, {POSTGRES_VERSIONS[0]} to {POSTGRES_VERSIONS[-1]})",
            )
        if not isinstance(self.auto_minor_version_upgrade, bool):
            raise SpecError(
                "database.auto_minor_version_upgrade", self.auto_minor_version_upgrade, "must be true or false"
            )
        if self.auto_minor_version_upgrade and self.engine_version not in POSTGRES_MAJORS:
            raise SpecError(
                "database.engine_version",
                self.engine_version,
                "a full version with auto_minor_version_upgrade on: once RDS upgrades the minor, the next deploy "
                f"asks for a downgrade and fails; give the major alone ('{self.major_version}') or turn "
                "auto_minor_version_upgrade off",
            )
        if self.instance_class not in DATABASE_INSTANCE_CLASSES:
            raise SpecError(
                "database.instance_class",
                self.instance_class,
                "not an RDS instance class this project offers (Graviton t4g, m6g-m8g, r6g-r8g; no 'db.' prefix)",
            )
        for name in ("database_name", "schema", "migrator_user"):
            value = getattr(self, name)
            if not isinstance(value, str) or not re.match(r"^[a-z][a-z0-9_]{0,62}$", value) or value in RESERVED_NAMES:
                raise SpecError(
                    f"database.{name}", value, "must be lowercase letters, digits or '_', and not a PostgreSQL name"
                )
        if not 20 <= self.allocated_storage_gib <= self.max_allocated_storage_gib <= 65536:
            raise SpecError(
                "database.allocated_storage_gib",
                (self.allocated_storage_gib, self.max_allocated_storage_gib),
                "need 20 <= allocated_storage_gib <= max_allocated_storage_gib <= 65536",
            )
        if not 1 <= self.backup_retention_days <= 35:
            raise SpecError(
                "database.backup_retention_days", self.backup_retention_days, "RDS keeps backups 1 to 35 days"
            )
