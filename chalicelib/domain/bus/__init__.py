"""The bus (the Barramento pillar), pure domain: trâmite states and moves, refusals, the manifest a
sender declares and its checks (pre-send rules, return path, components to upload), and receipts.

No I/O here: services/ drive these functions and store/ persists their results.

- addresses.py: Address (repositório, estrutura), Role, Actor and the bus's own actor BUS
- states.py: TramiteState (codes 1-10), the table of moves, IllegalTransition (409), WrongParty (403)
- tramites.py: Tramite, start and the moves, automatic cancel, pendências
- refusal.py: motivos de recusa and parse_refusal
- manifest.py: the manifest, validate_manifest, components_to_request
- return_path.py: check_return for a process coming back under the same NRE
- receipts.py: ReceiptRecord (recibo de conclusão) and SendReceiptRecord (recibo de envio)
"""

from chalicelib.domain.bus.addresses import BUS, Actor, Address, Role
from chalicelib.domain.bus.manifest import (
    ComponentSignature,
    Header,
    HistoryItem,
    Identification,
    Interested,
    Manifest,
    ManifestComponent,
    ManifestDocument,
    ManifestProcess,
    Producer,
    components_to_request,
    validate_manifest,
)
from chalicelib.domain.bus.receipts import CONCLUSION_FORMAT, SEND_FORMAT, ReceiptRecord, SendReceiptRecord
from chalicelib.domain.bus.refusal import (
    MAX_JUSTIFICATION,
    Refusal,
    RefusalReason,
    clip_justification,
    parse_refusal,
)
from chalicelib.domain.bus.return_path import ReturnMismatch, check_return, return_problems
from chalicelib.domain.bus.states import (
    AUTO_CANCEL_DAYS,
    AUTO_CANCEL_STATES,
    FINAL_STATES,
    LEGAL_MOVES,
    MOVES,
    Action,
    IllegalTransition,
    SenderLock,
    TramiteState,
    WrongParty,
    tramite_not_found,
)
from chalicelib.domain.bus.tramites import (
    PENDING_STATES,
    IssuedReceipt,
    Pendency,
    StateChange,
    Tramite,
    acknowledge_refusal,
    allowed_actions,
    auto_cancel,
    auto_cancel_at,
    cancel,
    check_move,
    complete_upload,
    due_for_auto_cancel,
    fetch_component,
    fetch_components,
    fetch_metadata,
    fetch_receipt,
    pendency_for,
    pending_agency,
    refuse,
    send_receipt,
    start,
)

__all__ = [
    "AUTO_CANCEL_DAYS",
    "AUTO_CANCEL_STATES",
    "BUS",
    "CONCLUSION_FORMAT",
    "FINAL_STATES",
    "LEGAL_MOVES",
    "MAX_JUSTIFICATION",
    "MOVES",
    "PENDING_STATES",
    "SEND_FORMAT",
    "Action",
    "Actor",
    "Address",
    "ComponentSignature",
    "Header",
    "HistoryItem",
    "Identification",
    "IllegalTransition",
    "Interested",
    "IssuedReceipt",
    "Manifest",
    "ManifestComponent",
    "ManifestDocument",
    "ManifestProcess",
    "Pendency",
    "Producer",
    "ReceiptRecord",
    "Refusal",
    "RefusalReason",
    "ReturnMismatch",
    "Role",
    "SendReceiptRecord",
    "SenderLock",
    "StateChange",
    "Tramite",
    "TramiteState",
    "WrongParty",
    "acknowledge_refusal",
    "allowed_actions",
    "auto_cancel",
    "auto_cancel_at",
    "cancel",
    "check_move",
    "check_return",
    "clip_justification",
    "complete_upload",
    "components_to_request",
    "due_for_auto_cancel",
    "fetch_component",
    "fetch_components",
    "fetch_metadata",
    "fetch_receipt",
    "parse_refusal",
    "pendency_for",
    "pending_agency",
    "refuse",
    "return_problems",
    "send_receipt",
    "start",
    "tramite_not_found",
    "validate_manifest",
]
