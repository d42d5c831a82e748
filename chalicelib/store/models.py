"""Persistence models (PynamoDB). They never leave chalicelib/store: repositories convert them.

Key schemas and indexes declared here are also the tables' definitions in the cloud template and
the local stack (infra/resources.py reads them), so there is one description of each table.
Table names and the endpoint are bound at start-up by `bind_models` from the settings.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.config import Settings

STRUCTURE_LIST = "E"  # the single partition of the by-name index: the registry is thousands of rows
AGENCY_LIST = "O"  # the single partition of the agencies index: a few hundred rows


class _Meta:
    billing_mode = "PAY_PER_REQUEST"
    region = "sa-east-1"
    host: str | None = None


class StructuresByName(GlobalSecondaryIndex["StructureItem"]):
    class Meta:
        index_name = "por_nome"
        projection = AllProjection()

    lista = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class StructuresByAcronym(GlobalSecondaryIndex["StructureItem"]):
    class Meta:
        index_name = "por_sigla"
        projection = AllProjection()

    sigla_norm = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class StructuresByAgency(GlobalSecondaryIndex["StructureItem"]):
    class Meta:
        index_name = "por_orgao"
        projection = AllProjection()

    orgao_id = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class StructuresAgencies(GlobalSecondaryIndex["StructureItem"]):
    """Sparse: only an agency (a structure without a parent) carries `raiz`, so listing the agencies
    never reads their thousands of units."""

    class Meta:
        index_name = "orgaos"
        projection = AllProjection()

    raiz = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class StructureItem(Model):
    """An agency or a unit. `ordem` (normalised name + id) orders every listing by name."""

    class Meta(_Meta):
        table_name = "estruturas"

    pk = UnicodeAttribute(hash_key=True)
    lista = UnicodeAttribute()
    raiz = UnicodeAttribute(null=True)  # AGENCY_LIST on an agency, absent on a unit
    ordem = UnicodeAttribute()
    nome = UnicodeAttribute()
    nome_norm = UnicodeAttribute()
    sigla = UnicodeAttribute()
    sigla_norm = UnicodeAttribute()
    orgao_id = UnicodeAttribute()
    pai_id = UnicodeAttribute(null=True)
    ativo = BooleanAttribute()
    pode_enviar = BooleanAttribute()
    pode_receber = BooleanAttribute()
    codigo_protocolo = UnicodeAttribute(null=True)
    email_contato = UnicodeAttribute(null=True)
    versao = VersionAttribute()

    by_name = StructuresByName()
    by_acronym = StructuresByAcronym()
    by_agency = StructuresByAgency()
    agencies = StructuresAgencies()


class ProtocolCodeGuard(Model):
    """Holds a protocol unit code for one structure, so two units never issue the same NUPs."""

    class Meta(_Meta):
        table_name = "estruturas"

    pk = UnicodeAttribute(hash_key=True)  # "codigo#NNNNN"
    dono = UnicodeAttribute()


class Counter(Model):
    class Meta(_Meta):
        table_name = "estruturas"

    pk = UnicodeAttribute(hash_key=True)  # "#contador#<name>"
    valor = NumberAttribute(default=0)


class ClientsByAgency(GlobalSecondaryIndex["ClientItem"]):
    class Meta:
        index_name = "por_orgao"
        projection = AllProjection()

    orgao_id = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute(range_key=True)


class ClientItem(Model):
    class Meta(_Meta):
        table_name = "clientes"

    id = UnicodeAttribute(hash_key=True)
    orgao_id = UnicodeAttribute()
    nome = UnicodeAttribute()
    escopos = UnicodeSetAttribute()
    token_hash = UnicodeAttribute()
    criado_em = UTCDateTimeAttribute()
    expira_em = UTCDateTimeAttribute(null=True)
    revogado_em = UTCDateTimeAttribute(null=True)
    renovado_em = UTCDateTimeAttribute(null=True)
    versao = VersionAttribute()

    by_agency = ClientsByAgency()


class AgencyKeyMap(MapAttribute[str, Any]):
    id = UnicodeAttribute()
    pem = UnicodeAttribute()
    algoritmo = UnicodeAttribute()
    criada_em = UTCDateTimeAttribute()
    revogada_em = UTCDateTimeAttribute(null=True)


class AgencyKeysItem(Model):
    """The public keys an agency registered: id "CHAVES#<agency id>" (a handful per agency, read
    whole; no orgao_id attribute, so the clients' index never lists it)."""

    class Meta(_Meta):
        table_name = "clientes"

    id = UnicodeAttribute(hash_key=True)
    chaves = ListAttribute(of=AgencyKeyMap, default=list)
    versao = VersionAttribute()


class HostingItem(Model):
    """An agency hosted on this platform and the espécies it accepts through the bus:
    id "HOSPEDAGEM#<agency id>" (no orgao_id attribute, so the clients' index never lists it)."""

    class Meta(_Meta):
        table_name = "clientes"

    id = UnicodeAttribute(hash_key=True)
    hospedado = BooleanAttribute(default=False)
    especies = NumberSetAttribute(null=True)  # absent: every espécie
    atualizado_em = UTCDateTimeAttribute()


# --- processes pillar: one table, one partition per process ----------------------------------------
# A process is one agency's copy of a NUP: the bus imports a process into another agency of the
# platform under the same NUP, and each copy lives on by itself. pk "P#<agency id>#<nup>" holds: "#M" the
# process, "#R#<nup>" its relations (always with a process of the same agency), "#U#<unit>" the units it
# is open in, "D#<order>" its documents and "H#<seq>" its history. One Query with sk < "H" reads a
# process with its documents; "H#" items are the history (and, through the table's stream, the events
# out). The "copias" index finds every agency's copy of a NUP.
# pk "SEQ#<unit code>#<year>" holds the NUP sequence of a protocol unit; pk "NUM#<unit>#<espécie>#<year>"
# the numbers of internal documents; pk "ENVIO#<id>" an external document's pending upload;
# pk "VER#<verification code>", sk "CRC#<crc>" the public lookup key of a signed document.
# The bus's import adds "#B#<order>" (a document received through the bus) and "IMP#<idt>" (the marker
# that makes an import happen once per trâmite; "IMP#" sorts after "H#", outside the process's read).


class InterestedMap(MapAttribute[str, Any]):
    nome = UnicodeAttribute()
    documento = UnicodeAttribute(null=True)


class ProcessInbox(GlobalSecondaryIndex["OpenUnitItem"]):
    """Processes open in a unit, newest first."""

    class Meta:
        index_name = "caixa"
        projection = AllProjection()

    caixa = UnicodeAttribute(hash_key=True)
    caixa_ordem = UnicodeAttribute(range_key=True)


class OpenUnitItem(Model):
    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    nup = UnicodeAttribute()
    unidade = UnicodeAttribute()
    desde = UTCDateTimeAttribute()
    de_unidade = UnicodeAttribute(null=True)
    retorno_programado = UnicodeAttribute(null=True)  # ISO date
    caixa = UnicodeAttribute()
    caixa_ordem = UnicodeAttribute()
    # A summary of the process for the unit's inbox, rewritten with every change of the process.
    tipo = UnicodeAttribute(null=True)
    especificacao = UnicodeAttribute(null=True)
    nivel_acesso = NumberAttribute(null=True)

    inbox = ProcessInbox()


class ProcessCopies(GlobalSecondaryIndex["ProcessItem"]):
    """Every agency's copy of a NUP. Sparse: only the "#M" items carry `copia_nup` (the other items
    of a process carry `nup` too, so that attribute would index them all). Keys only: the meta item
    is rewritten with every change, and a key-only index is not written when its keys stay put."""

    class Meta:
        index_name = "copias"
        projection = KeysOnlyProjection()

    copia_nup = UnicodeAttribute(hash_key=True)
    orgao_id = UnicodeAttribute(range_key=True)


class ProcessTable(Model):
    """The processes table's schema (keys and every index), never written: each item kind below
    declares only the index it is read through."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)

    inbox = ProcessInbox()
    copies = ProcessCopies()


class ProcessItem(Model):
    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    nup = UnicodeAttribute()
    orgao_id = UnicodeAttribute()
    unidade_geradora = UnicodeAttribute()
    tipo = UnicodeAttribute()
    especificacao = UnicodeAttribute()
    interessados = ListAttribute(of=InterestedMap)
    nivel_acesso = NumberAttribute()
    hipotese_legal = NumberAttribute(null=True)
    nivel_documentos = NumberAttribute(default=1)
    sobrestado = BooleanAttribute(default=False)
    motivo_sobrestamento = UnicodeAttribute(null=True)
    anexado_a = UnicodeAttribute(null=True)
    criado_em = UTCDateTimeAttribute()
    atualizado_em = UTCDateTimeAttribute()
    hist_seq = NumberAttribute(default=0)
    hist_head = UnicodeAttribute(default="")
    copia_nup = UnicodeAttribute()  # = nup, only here: the key of the sparse "copias" index
    nre = UnicodeAttribute(null=True)  # the bus's id of the process, kept for good
    bloqueado_por = UnicodeSetAttribute(null=True)  # IDTs of the open trâmites that lock it
    versao = VersionAttribute()

    copies = ProcessCopies()


class ReceivedSignatureMap(MapAttribute[str, Any]):
    razao = UnicodeAttribute()
    data_hora = UTCDateTimeAttribute()
    valor = UnicodeAttribute()  # base64
    cadeia = UnicodeAttribute(null=True)  # base64


class ReceivedDocumentItem(Model):
    """A document the copy received through the bus: pk "P#<agency id>#<nup>", sk "#B#<order>" (read
    with the process). Written once by the import, never rewritten."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    ordem = NumberAttribute()
    idt = UnicodeAttribute()
    sha256 = UnicodeAttribute()
    assinaturas = ListAttribute(of=ReceivedSignatureMap, null=True)


class ImportMarkerItem(Model):
    """A trâmite imported into the copy: pk "P#<agency id>#<nup>", sk "IMP#<idt>", written in the same
    transaction as the import's change of the process, so an import happens once per IDT."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    idt = UnicodeAttribute()
    nre = UnicodeAttribute()
    recebido_em = UTCDateTimeAttribute()


class RelationItem(Model):
    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    tipo = UnicodeAttribute()  # "relacionado" | "anexo"
    outro = UnicodeAttribute()


class HistoryItem(Model):
    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    nup = UnicodeAttribute()
    seq = NumberAttribute()
    em = UTCDateTimeAttribute()
    unidade = UnicodeAttribute()
    usuario = UnicodeAttribute()
    operacao = UnicodeAttribute()
    descricao = UnicodeAttribute()
    hash_anterior = UnicodeAttribute()
    hash = UnicodeAttribute()
    orgao_id = UnicodeAttribute()
    nivel_acesso = NumberAttribute()  # the process's effective level when it happened (for tracking)


class SequenceItem(Model):
    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    valor = NumberAttribute()


class EventItem(Model):
    """An event of the processes pillar, kept once per (agency, nup, seq): the tracking pillar's input."""

    class Meta(_Meta):
        table_name = "eventos"

    pk = UnicodeAttribute(hash_key=True)  # "E#<agency id>#<nup>"
    seq = NumberAttribute(range_key=True)
    em = UTCDateTimeAttribute()
    orgao_id = UnicodeAttribute()
    unidade = UnicodeAttribute()
    operacao = UnicodeAttribute()
    descricao = UnicodeAttribute()
    nivel_acesso = NumberAttribute()
    hash = UnicodeAttribute()
    recebido_em = UTCDateTimeAttribute()


class SignatureMap(MapAttribute[str, Any]):
    """One signature, inside its document's item: the exact bytes that were stamped (the record's
    RFC 8785 canonical JSON, kept verbatim) and the stamp."""

    registro = UnicodeAttribute()
    algoritmo = UnicodeAttribute()
    chave = UnicodeAttribute()
    assinatura = UnicodeAttribute()  # base64 of the DER ECDSA signature
    carimbado_em = UTCDateTimeAttribute()
    usuario = UnicodeAttribute()  # X-Usuario (not signed, never published)


class DocumentItem(Model):
    """A document of a process: pk "P#<agency id>#<nup>", sk "D#<order, 6 digits>" (read with the
    process)."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    nup = UnicodeAttribute()
    ordem = NumberAttribute()
    origem = UnicodeAttribute()  # "interno" | "externo"
    especie = NumberAttribute()
    nivel_acesso = NumberAttribute()
    hipotese_legal = NumberAttribute(null=True)
    unidade = UnicodeAttribute()
    criado_por = UnicodeAttribute()
    criado_em = UTCDateTimeAttribute()
    atualizado_em = UTCDateTimeAttribute()
    sha256 = UnicodeAttribute()  # base64
    tamanho = NumberAttribute()
    tipo_midia = UnicodeAttribute()
    nome_arquivo = UnicodeAttribute()
    verificacao = UnicodeAttribute(default="objeto")
    descricao = UnicodeAttribute(null=True)
    numero = NumberAttribute(null=True)
    ano = NumberAttribute(null=True)
    assinaturas = ListAttribute(of=SignatureMap, null=True)
    id_publico = UnicodeAttribute(null=True)  # the document's id in signature records
    codigo_verificador = UnicodeAttribute(null=True)
    crc = UnicodeAttribute(null=True)
    cancelado_em = UTCDateTimeAttribute(null=True)
    motivo_cancelamento = UnicodeAttribute(null=True)
    cancelado_por = UnicodeAttribute(null=True)
    versao = VersionAttribute()


class PendingUploadItem(Model):
    """An external document waiting for its file: pk "ENVIO#<id>", sk "#M", outside the process's
    partition. Deleted by the transaction that creates the document; `expiracao` (epoch seconds) is
    meant for the table's TTL so abandoned uploads go away."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    nup = UnicodeAttribute()
    orgao_id = UnicodeAttribute()
    unidade = UnicodeAttribute()
    usuario = UnicodeAttribute()
    especie = NumberAttribute()
    nivel_acesso = NumberAttribute()
    hipotese_legal = NumberAttribute(null=True)
    descricao = UnicodeAttribute(null=True)
    sha256 = UnicodeAttribute()
    tamanho = NumberAttribute()
    tipo_midia = UnicodeAttribute()
    nome_arquivo = UnicodeAttribute()
    tamanho_parte = NumberAttribute(null=True)
    partes = ListAttribute(of=UnicodeAttribute, null=True)
    multipart_id = UnicodeAttribute(null=True)
    criado_em = UTCDateTimeAttribute()
    expira_em = UTCDateTimeAttribute()
    expiracao = NumberAttribute()


class VerificationItem(Model):
    """The public lookup key of a signed document: pk "VER#<code>", sk "CRC#<crc>" -> (agency, nup,
    order), i.e. the document of one agency's copy of the process. One GetItem answers a lookup; written
    once, with the first signature, never rewritten."""

    class Meta(_Meta):
        table_name = "processos"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    orgao_id = UnicodeAttribute()
    nup = UnicodeAttribute()
    ordem = NumberAttribute()


# --- bus pillar: one item per trâmite, plus one guard item per NRE with an open trâmite -----------------
# pk "T#<idt>": the trâmite, its whole state history in the item (a trâmite has at most a dozen
# changes), its refusal when refused, its recibo de conclusão from state 5. pk "NRE#<nre>": the NRE's
# open-trâmite guard, claimed in the transaction that creates a send's trâmites (one per receiver) and
# released, IDT by IDT, in the ones that move them to a final state (6, 7, 9, 10).
# Indexes: by NRE and by NUP (ordered by creation); pendências, sparse, keyed by the agency the trâmite
# waits for (ordered by last state change); automatic cancel, sparse, keyed by its deadline.

AUTO_CANCEL_LIST = "C"  # the single partition of the automatic-cancel index: only trâmites in 1-4


class ActorMap(MapAttribute[str, Any]):
    orgao = UnicodeAttribute()
    cliente = UnicodeAttribute()
    usuario = UnicodeAttribute(null=True)


class StateChangeMap(MapAttribute[str, Any]):
    estado = NumberAttribute()
    em = UTCDateTimeAttribute()
    por = ActorMap()
    detalhe = UnicodeAttribute()


class RefusalMap(MapAttribute[str, Any]):
    motivo = UnicodeAttribute()
    justificativa = UnicodeAttribute(null=True)


class IssuedReceiptMap(MapAttribute[str, Any]):
    """The recibo de conclusão: the stamped bytes (base64) and the stamp."""

    registro = UnicodeAttribute()
    algoritmo = UnicodeAttribute()
    chave = UnicodeAttribute()
    assinatura = UnicodeAttribute()
    data = UTCDateTimeAttribute()


class TramitesByNre(GlobalSecondaryIndex["TramiteItem"]):
    class Meta:
        index_name = "por_nre"
        projection = AllProjection()

    nre = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class TramitesByNup(GlobalSecondaryIndex["TramiteItem"]):
    class Meta:
        index_name = "por_nup"
        projection = AllProjection()

    nup = UnicodeAttribute(hash_key=True)
    ordem = UnicodeAttribute(range_key=True)


class TramitePendencies(GlobalSecondaryIndex["TramiteItem"]):
    """Sparse: only trâmites waiting for an agency (`pendente`), oldest change first."""

    class Meta:
        index_name = "pendencias"
        projection = AllProjection()

    pendente = UnicodeAttribute(hash_key=True)
    mudanca = UnicodeAttribute(range_key=True)


class TramitesToAutoCancel(GlobalSecondaryIndex["TramiteItem"]):
    """Sparse: only trâmites in states 1-4, by the moment they become due for automatic cancel."""

    class Meta:
        index_name = "cancelamento"
        projection = AllProjection()

    cancelamento = UnicodeAttribute(hash_key=True)
    cancelar_em = UnicodeAttribute(range_key=True)


class TramiteItem(Model):
    class Meta(_Meta):
        table_name = "tramites"

    pk = UnicodeAttribute(hash_key=True)  # "T#<idt>"
    idt = UnicodeAttribute()
    nre = UnicodeAttribute()
    nup = UnicodeAttribute()
    remetente_repositorio = UnicodeAttribute()
    remetente_estrutura = UnicodeAttribute()
    destinatario_repositorio = UnicodeAttribute()
    destinatario_estrutura = UnicodeAttribute()
    orgao_remetente = UnicodeAttribute()
    orgao_destinatario = UnicodeAttribute()
    estado = NumberAttribute()  # the current state (the last of `historico`), for readers of the table
    historico = ListAttribute(of=StateChangeMap)
    recusa = RefusalMap(null=True)
    baixados = UnicodeSetAttribute(null=True)  # SHA-256 of the components the receiver downloaded
    recibo = IssuedReceiptMap(null=True)  # the recibo de conclusão, states 5 and 6
    ordem = UnicodeAttribute()  # "<created at>#<idt>"
    mudanca = UnicodeAttribute()  # "<last state change at>#<idt>"
    pendente = UnicodeAttribute(null=True)  # the agency the trâmite waits for
    cancelamento = UnicodeAttribute(null=True)  # AUTO_CANCEL_LIST while in states 1-4
    cancelar_em = UnicodeAttribute(null=True)  # "<automatic cancel deadline>#<idt>"
    versao = VersionAttribute()

    by_nre = TramitesByNre()
    by_nup = TramitesByNup()
    pendencies = TramitePendencies()
    to_auto_cancel = TramitesToAutoCancel()


class OpenTramiteGuard(Model):
    """The open trâmites of an NRE: pk "NRE#<nre>", `abertos` their IDTs (one send may open several,
    one per receiver). Absent or without `abertos` (DynamoDB drops an emptied set): the NRE is free."""

    class Meta(_Meta):
        table_name = "tramites"

    pk = UnicodeAttribute(hash_key=True)
    abertos = UnicodeSetAttribute(null=True)


# --- public tracking (table "publico") -------------------------------------------------------------
# The searchable summary every index item carries, so a search page is one Query and no reads.
SEARCH_SUMMARY = ["nup", "resumo"]


class PublicByAgency(GlobalSecondaryIndex["PublicRecordItem"]):
    """Público records of an agency, by production date. Sparse: only público records carry it."""

    class Meta:
        index_name = "por_orgao"
        projection = IncludeProjection([*SEARCH_SUMMARY, "busca_tipo"])  # a type filter

    busca_orgao = UnicodeAttribute(hash_key=True)
    busca_data = UnicodeAttribute(range_key=True)  # "<produced on ISO date>#<nup>"


class PublicByType(GlobalSecondaryIndex["PublicRecordItem"]):
    """Público records of a process type (normalised), by production date. Sparse."""

    class Meta:
        index_name = "por_tipo"
        projection = IncludeProjection([*SEARCH_SUMMARY, "busca_orgao"])  # an agency filter

    busca_tipo = UnicodeAttribute(hash_key=True)
    busca_data = UnicodeAttribute(range_key=True)


class PublicByName(GlobalSecondaryIndex["PublicNameItem"]):
    """Interessados' names (normalised), partitioned by their first three letters, so a prefix of
    three letters or more is one Query with begins_with on the sort key."""

    class Meta:
        index_name = "por_nome"
        projection = AllProjection()

    nome_prefixo = UnicodeAttribute(hash_key=True)
    nome_ordem = UnicodeAttribute(range_key=True)  # "<normalised name>#<nup>"


class PublicTable(Model):
    """The public base's schema (keys and every index), never written."""

    class Meta(_Meta):
        table_name = "publico"

    pk = UnicodeAttribute(hash_key=True)

    by_agency = PublicByAgency()
    by_type = PublicByType()
    by_name = PublicByName()


class PublicRecordItem(Model):
    """The public record of a NUP: pk "R#<nup>". `partes` is the record's parts as zlib-compressed
    JSON (already filtered by the privacy rules), read whole by a lookup in one GetItem."""

    class Meta(_Meta):
        table_name = "publico"

    pk = UnicodeAttribute(hash_key=True)
    nup = UnicodeAttribute()
    partes = BinaryAttribute(legacy_encoding=False)
    resumo = UnicodeAttribute(null=True)  # JSON of the search hit; set while the record is público
    busca_orgao = UnicodeAttribute(null=True)
    busca_tipo = UnicodeAttribute(null=True)
    busca_data = UnicodeAttribute(null=True)
    versao = VersionAttribute()

    by_agency = PublicByAgency()
    by_type = PublicByType()


class PublicNameItem(Model):
    """One interessado's name of a público record: pk "N#<nup>#<normalised name>". Written and
    deleted with the record, only when the published names change."""

    class Meta(_Meta):
        table_name = "publico"

    pk = UnicodeAttribute(hash_key=True)
    nup = UnicodeAttribute()
    nome_prefixo = UnicodeAttribute()
    nome_ordem = UnicodeAttribute()
    resumo = UnicodeAttribute()
    orgao_id = UnicodeAttribute()  # filters of a combined search
    tipo = UnicodeAttribute()
    data = UnicodeAttribute()

    by_name = PublicByName()


class PublicationItem(Model):
    """An agency's publication choice: id "PUBLICACAO#<agency id>" in the clients table (no
    orgao_id attribute, so the clients' index never lists it)."""

    class Meta(_Meta):
        table_name = "clientes"

    id = UnicodeAttribute(hash_key=True)
    publicar_restritos = BooleanAttribute()
    alterado_em = UTCDateTimeAttribute()


# --- following by e-mail (table "acompanhamentos") ----------------------------------------------


class FollowersOfNup(GlobalSecondaryIndex["SubscriptionItem"]):
    """The confirmed followers of a NUP. Sparse: `seguindo` is set only while confirmed."""

    class Meta:
        index_name = "seguidores"
        projection = AllProjection()

    seguindo = UnicodeAttribute(hash_key=True)  # the NUP
    pk = UnicodeAttribute(range_key=True)


class SubscriptionTable(Model):
    """The following table's schema, never written."""

    class Meta(_Meta):
        table_name = "acompanhamentos"

    pk = UnicodeAttribute(hash_key=True)
    followers = FollowersOfNup()


class SubscriptionItem(Model):
    """A subscription: pk "S#<subscription id>"."""

    class Meta(_Meta):
        table_name = "acompanhamentos"

    pk = UnicodeAttribute(hash_key=True)
    nup = UnicodeAttribute()
    email = UnicodeAttribute()
    endereco = UnicodeAttribute()  # address_key(email)
    estado = UnicodeAttribute()
    criado_em = UTCDateTimeAttribute()
    token_cancelamento = UnicodeAttribute()
    token_confirmacao_hash = UnicodeAttribute(null=True)
    confirmacao_expira_em = UTCDateTimeAttribute(null=True)
    confirmado_em = UTCDateTimeAttribute(null=True)
    cancelado_em = UTCDateTimeAttribute(null=True)
    seguindo = UnicodeAttribute(null=True)
    # Epoch seconds: a cancelled subscription (and the address it holds) is deleted by the table's
    # TTL some days after it ended; absent while pending or confirmed.
    expira = NumberAttribute(null=True)
    versao = VersionAttribute()

    followers = FollowersOfNup()


class AddressItem(Model):
    """Per address (pk "A#<address_key>"): the quota counters and the suppression mark."""

    class Meta(_Meta):
        table_name = "acompanhamentos"

    pk = UnicodeAttribute(hash_key=True)
    seguindo_total = NumberAttribute(default=0)
    hora = UTCDateTimeAttribute(null=True)
    confirmacoes_hora = NumberAttribute(default=0)
    suprimido_em = UTCDateTimeAttribute(null=True)
    motivo_supressao = UnicodeAttribute(null=True)
    versao = VersionAttribute()


# The model whose schema defines each table, by the settings field holding the table's name.
TABLE_MODELS: dict[str, type[Model]] = {
    "table_estruturas": StructureItem,
    "table_clientes": ClientItem,
    "table_processos": ProcessTable,
    "table_eventos": EventItem,
    "table_tramites": TramiteItem,
    "table_publico": PublicTable,
    "table_acompanhamentos": SubscriptionTable,
}
_BOUND: dict[str, tuple[type[Model], ...]] = {
    "table_estruturas": (StructureItem, ProtocolCodeGuard, Counter),
    "table_clientes": (ClientItem, HostingItem, AgencyKeysItem, PublicationItem),
    "table_processos": (
        ProcessTable,
        OpenUnitItem,
        ProcessItem,
        RelationItem,
        HistoryItem,
        SequenceItem,
        DocumentItem,
        PendingUploadItem,
        VerificationItem,
        ReceivedDocumentItem,
        ImportMarkerItem,
    ),
    "table_eventos": (EventItem,),
    "table_tramites": (TramiteItem, OpenTramiteGuard),
    "table_publico": (PublicTable, PublicRecordItem, PublicNameItem),
    "table_acompanhamentos": (SubscriptionTable, SubscriptionItem, AddressItem),
}


def bind_models(settings: Settings) -> None:
    """Points every model at its table and endpoint; drops cached connections."""
    for field_name, models in _BOUND.items():
        for model in models:
            meta: Any = model.Meta
            meta.table_name = getattr(settings, field_name)
            meta.region = settings.region
            meta.host = settings.endpoint_url
            model._connection = None
