"""Every blueprint of the app, in registration order (the authorizer first)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.handlers import (
    acompanhamentos,
    assinaturas,
    auth,
    barramento,
    bus_worker,
    documentos,
    estruturas,
    events,
    mail,
    mail_events,
    meta,
    notices_worker,
    orgaos,
    processos,
    protocolo_integrado,
    publico,
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
    publico.bp,
    acompanhamentos.bp,
    protocolo_integrado.bp,
    mail.bp,
    mail_events.bp,
    notices_worker.bp,
    events.bp,
    bus_worker.bp,
    schedules.bp,
)
