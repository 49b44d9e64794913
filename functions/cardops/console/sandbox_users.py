"""The local sandbox's seeded console users, one or more per role (README, "Web console").

Their stores are the ones the sample events use (``events/``: ``store_042``, ``store_001``) and their
tenant is the feed samples' (``tenant_demo``, employee ``E001``). Only the sandbox's user switcher
(``/console/sandbox/login``) signs in as them; a deployed stack has Cognito users instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardops.console.policy import Group


@dataclass(frozen=True)
class SandboxUser:
    user_id: str
    group: Group
    name: str
    store_ids: tuple[str, ...] = ()
    tenant_id: str | None = None
    employee_code: str | None = None

    def claims(self) -> dict[str, Any]:
        """The claims Cognito would put in this user's ID token."""
        claims: dict[str, Any] = {
            "sub": self.user_id,
            "cognito:groups": [self.group.value],
            "email": f"{self.user_id}@sandbox.invalid",
        }
        if self.store_ids:
            claims["custom:store_ids"] = ",".join(self.store_ids)
        if self.tenant_id:
            claims["custom:tenant_id"] = self.tenant_id
        if self.employee_code:
            claims["custom:employee_code"] = self.employee_code
        return claims


USERS: tuple[SandboxUser, ...] = (
    SandboxUser("store-admin-042", Group.STORE_ADMIN, "店舗管理者 (store_042)", store_ids=("store_042",)),
    SandboxUser("store-admin-001", Group.STORE_ADMIN, "店舗管理者 (store_001)", store_ids=("store_001",)),
    SandboxUser("support-1", Group.SUPPORT, "サポートデスク"),
    SandboxUser("finance-1", Group.FINANCE, "経理"),
    SandboxUser(
        "tenant-admin-demo", Group.TENANT_ADMIN, "テナント管理者 (tenant_demo)", tenant_id="tenant_demo"
    ),
    SandboxUser(
        "employee-demo-e001",
        Group.EMPLOYEE,
        "従業員 E001 (tenant_demo)",
        tenant_id="tenant_demo",
        employee_code="E001",
    ),
)
BY_ID = {user.user_id: user for user in USERS}
