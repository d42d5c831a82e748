"""Every blueprint of the app, in registration order (the authorizer first)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers import (
    assinaturas,
    auth,
    barramento,
    bus_worker,
    documentos,
    estruturas,
    events,
    mail,
    meta,
    orgaos,
    processos,
    schedules,
)

BLUEPRINTS: tuple[Blueprint, ...] = (
    auth.auth_bp,
    meta.bp,
    estruturas.bp,
    orgaos.bp,
    processos.bp,
    documentos.bp,
    assinaturas.bp,
    barramento.bp,
    mail.bp,
    events.bp,
    bus_worker.bp,
    schedules.bp,
)
