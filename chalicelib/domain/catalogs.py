"""National lists of the PEN: hipóteses legais, espécies documentais and history operations.

Immutable data with lookup functions; an unknown code is an InvalidInput with a pt-BR message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from chalicelib.domain.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class LegalHypothesis:
    """A hipótese legal: the legal basis for restricting access (nível restrito or sigiloso)."""

    id: int
    name: str
    legal_basis: str

    @property
    def label(self) -> str:
        """The text SEI and the PEN show, e.g. "Informação Pessoal (Art. 31 da Lei nº 12.527/2011)"."""
        return f"{self.name} ({self.legal_basis})"


@dataclass(frozen=True)
class DocumentKind:
    """An espécie documental of the national list."""

    code: int
    name: str


@dataclass(frozen=True)
class HistoryOperation:
    """An operation of the national process history (andamento), coded "01" to "18"."""

    code: str
    name: str


# Hipóteses legais. Source: the list SEI's federal base ships, with the exact texts the mod-sei-pen
# functional tests use (pengovbr/mod-sei-pen tests_super/funcional/phpunit.xml) and the ids 1 to 18
# (alphabetical) a federal agency's SEI gives them; that same SEI also lists ids 19, 22 and 23 (ids
# 20 and 21 were seen nowhere and are left out). mod-sei-pen pairs an agency's hipóteses with the
# bus's by name (its automatic mapping, issue #350), so the texts are kept verbatim, including the
# spacing of "Protocolo -Pendente". The bus's own identifiers are assigned by the bus: an adapter
# maps ids at the edge, as mod-sei-pen's md_pen_rel_hipotese_legal does. Left out on purpose: five
# hipóteses of the telecom regulator that SEI ships as examples (Fiscalização / Investigação da
# Anatel, and four "Informações ... de Empresa" under art. 39 of Lei nº 9.472/1997).
_LEGAL_HYPOTHESES: tuple[LegalHypothesis, ...] = (
    LegalHypothesis(1, "Controle Interno", "Art. 26, § 3º, da Lei nº 10.180/2001"),
    LegalHypothesis(2, "Direito Autoral", "Art. 24, III, da Lei nº 9.610/1998"),
    LegalHypothesis(3, "Documento Preparatório", "Art. 7º, § 3º, da Lei nº 12.527/2011"),
    LegalHypothesis(4, "Informação Pessoal", "Art. 31 da Lei nº 12.527/2011"),
    LegalHypothesis(
        5, "Informações Privilegiadas de Sociedades Anônimas", "Art. 155, § 2º, da Lei nº 6.404/1976"
    ),
    LegalHypothesis(6, "Interceptação de Comunicações Telefônicas", "Art. 8º, caput, da Lei nº 9.296/1996"),
    LegalHypothesis(7, "Investigação de Responsabilidade de Servidor", "Art. 150 da Lei nº 8.112/1990"),
    LegalHypothesis(8, "Livros e Registros Contábeis Empresariais", "Art. 1.190 do Código Civil"),
    # Sigilo bancário.
    LegalHypothesis(9, "Operações Bancárias", "Art. 1º da Lei Complementar nº 105/2001"),
    LegalHypothesis(10, "Proteção da Propriedade Intelectual de Software", "Art. 2º da Lei nº 9.609/1998"),
    LegalHypothesis(
        11, "Protocolo -Pendente Análise de Restrição de Acesso", "Art. 6º, III, da Lei nº 12.527/2011"
    ),
    LegalHypothesis(12, "Segredo de Justiça no Processo Civil", "Art. 189 do Código de Processo Civil"),
    LegalHypothesis(
        13, "Segredo de Justiça no Processo Penal", "Art. 201, § 6º, do Código de Processo Penal"
    ),
    LegalHypothesis(14, "Segredo Industrial", "Art. 195, XIV, Lei nº 9.279/1996"),
    LegalHypothesis(15, "Sigilo das Comunicações", "Art. 3º, V, da Lei nº 9.472/1997"),
    # Sigilo empresarial.
    LegalHypothesis(16, "Sigilo de Empresa em Situação Falimentar", "Art. 169 da Lei nº 11.101/2005"),
    LegalHypothesis(17, "Sigilo do Inquérito Policial", "Art. 20 do Código de Processo Penal"),
    # Sigilo fiscal.
    LegalHypothesis(
        18,
        "Situação Econômico-Financeira de Sujeito Passivo",
        "Art. 198, caput, da Lei nº 5.172/1966 - CTN",
    ),
    LegalHypothesis(
        19,
        "Fase Interna de Processo Licitatório",
        "Artigo 3º, caput e §3º, da lei nº 8.666/1993",
    ),
    LegalHypothesis(22, "Fase Interna - Processo Licitatório", "Artigo 5º, caput Lei nº 14.133/2021"),
    LegalHypothesis(23, "Incidentes Cibernéticos", "art. 15 do Decreto nº 10.748, de 16/05/2021"),
)

# Espécies documentais: the national table as the PEN module for SEI installs it
# (pengovbr/mod-sei-pen rn/PenAtualizarSeiRN.php, commit 005faff1551c173bd74664c4949e46ae388a8d7e:
# codes 1 to 177 in instalarV100, 178 to 186 and 999 in instalarV117). Complete: no code missing.
_DOCUMENT_KINDS: tuple[tuple[int, str], ...] = (
    (1, "Abaixo-assinado"),
    (2, "Acórdão"),
    (3, "Acordo"),
    (4, "Alvará"),
    (5, "Anais"),
    (6, "Anteprojeto"),
    (7, "Apólice"),
    (8, "Apostila"),
    (9, "Ata"),
    (10, "Atestado"),
    (11, "Ato"),
    (12, "Auto"),
    (13, "Aviso"),
    (14, "Balancete"),
    (15, "Balanço"),
    (16, "Bilhete"),
    (17, "Boletim"),
    (18, "Carta"),
    (19, "Cartaz"),
    (20, "Cédula"),
    (21, "Certidão"),
    (22, "Certificado"),
    (23, "Cheque"),
    (24, "Comprovante"),
    (25, "Comunicado"),
    (26, "Consulta"),
    (27, "Contracheque"),
    (28, "Contrato"),
    (29, "Convênio"),
    (30, "Convite"),
    (31, "Convenção"),
    (32, "Crachá"),
    (33, "Cronograma"),
    (34, "Currículo"),
    (35, "Debênture"),
    (36, "Decisão"),
    (37, "Declaração"),
    (38, "Decreto"),
    (39, "Deliberação"),
    (40, "Demonstrativo"),
    (41, "Depoimento"),
    (42, "Despacho"),
    (43, "Diário"),
    (44, "Diploma"),
    (45, "Diretriz"),
    (46, "Dissertação"),
    (47, "Dossiê"),
    (48, "Edital"),
    (49, "E-mail"),
    (50, "Embargos"),
    (51, "Emenda"),
    (52, "Escala"),
    (53, "Escritura"),
    (54, "Estatuto"),
    (55, "Exposição de Motivos"),
    (56, "Extrato"),
    (57, "Fatura"),
    (58, "Ficha"),
    (59, "Fluxograma"),
    (60, "Folha"),
    (61, "Folheto/Folder"),
    (62, "Formulário"),
    (63, "Grade Curricular"),
    (64, "Guia"),
    (65, "Histórico"),
    (66, "Indicação"),
    (67, "Informe"),
    (68, "Instrução"),
    (69, "Inventário"),
    (70, "Laudo"),
    (71, "Lei"),
    (72, "Lista/Listagem"),
    (73, "Livro"),
    (74, "Mandado"),
    (75, "Manifesto"),
    (76, "Manual"),
    (77, "Mapa"),
    (78, "Medida Provisória"),
    (79, "Memorando"),
    (80, "Memorando-circular"),
    (81, "Memorial"),
    (82, "Mensagem"),
    (83, "Minuta"),
    (84, "Moção"),
    (85, "Norma"),
    (86, "Nota"),
    (87, "Notificação"),
    (88, "Ofício"),
    (89, "Ofício-Circular"),
    (90, "Orçamento"),
    (91, "Ordem"),
    (92, "Organograma"),
    (93, "Orientação"),
    (94, "Panfleto"),
    (95, "Parecer"),
    (96, "Passaporte"),
    (97, "Pauta"),
    (98, "Petição"),
    (99, "Planilha"),
    (100, "Plano"),
    (101, "Planta"),
    (102, "Portaria"),
    (103, "Precatório"),
    (104, "Processo"),
    (105, "Procuração"),
    (106, "Programa"),
    (107, "Projeto"),
    (108, "Prontuário"),
    (109, "Pronunciamento"),
    (110, "Proposta"),
    (111, "Prospecto"),
    (112, "Protocolo"),
    (113, "Prova"),
    (114, "Questionário"),
    (115, "Receita"),
    (116, "Recibo"),
    (117, "Recurso"),
    (118, "Regimento"),
    (119, "Registro"),
    (120, "Regulamento"),
    (121, "Relação"),
    (122, "Relatório"),
    (123, "Release"),
    (124, "Representação"),
    (125, "Requerimento"),
    (126, "Requisição"),
    (127, "Resolução"),
    (128, "Resumo"),
    (129, "Roteiro"),
    (130, "Sentença"),
    (131, "Sinopse"),
    (132, "Solicitação"),
    (133, "Súmula"),
    (134, "Tabela"),
    (135, "Telegrama"),
    (136, "Termo"),
    (137, "Tese"),
    (138, "Testamento"),
    (139, "Título"),
    (140, "Voto"),
    (141, "Carteira"),
    (142, "Cartão"),
    (143, "CPF/CIC"),
    (144, "CNPJ"),
    (145, "Calendário"),
    (146, "CNH"),
    (147, "RG"),
    (148, "Agenda"),
    (149, "Análise"),
    (150, "Anotação"),
    (151, "Áudio"),
    (152, "Boleto"),
    (153, "Conta"),
    (154, "Contrarrazões"),
    (155, "Correspondência"),
    (156, "Cota"),
    (157, "Credencial"),
    (158, "Croqui"),
    (159, "Defesa"),
    (160, "Demonstração"),
    (161, "Denúncia"),
    (162, "Esclarecimento"),
    (163, "Escrituração"),
    (164, "Estratégia"),
    (165, "Impugnação"),
    (166, "Informação"),
    (167, "Intenção"),
    (168, "Licença"),
    (169, "Matéria"),
    (170, "Material"),
    (171, "Memória"),
    (172, "Movimentação"),
    (173, "Pedido"),
    (174, "Reclamação"),
    (175, "Referendo"),
    (176, "Resultado"),
    (177, "Vídeo"),
    (178, "Alegações"),
    (179, "Anexo"),
    (180, "Documento"),
    (181, "Apartado"),
    (182, "Apresentação"),
    (183, "Diagnóstico"),
    (184, "Exame"),
    (185, "Página"),
    (186, "Estudo"),
    (999, "Outra"),
)

# History operations: the codes the bus carries in a process's history, named as
# pengovbr/mod-sei-pen rn/ProcessoEletronicoRN.php names them when it reads a received history.
_HISTORY_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("01", "Registro"),
    ("02", "Envio de documento avulso/processo"),
    ("03", "Cancelamento/exclusão ou envio de documento"),
    ("04", "Recebimento de documento"),
    ("05", "Autuação"),
    ("06", "Juntada por anexação"),
    ("07", "Juntada por apensação"),
    ("08", "Desapensação"),
    ("09", "Arquivamento"),
    ("10", "Arquivamento no Arquivo Nacional"),
    ("11", "Eliminação"),
    ("12", "Sinistro"),
    ("13", "Reconstituição de processo"),
    ("14", "Desarquivamento"),
    ("15", "Desmembramento"),
    ("16", "Desentranhamento"),
    ("17", "Encerramento/abertura de volume no processo"),
    ("18", "Registro de extravio"),
)

LEGAL_HYPOTHESES: Mapping[int, LegalHypothesis] = MappingProxyType({h.id: h for h in _LEGAL_HYPOTHESES})
DOCUMENT_KINDS: Mapping[int, DocumentKind] = MappingProxyType(
    {code: DocumentKind(code, name) for code, name in _DOCUMENT_KINDS}
)
HISTORY_OPERATIONS: Mapping[str, HistoryOperation] = MappingProxyType(
    {code: HistoryOperation(code, name) for code, name in _HISTORY_OPERATIONS}
)
OTHER_DOCUMENT_KIND = 999  # "Outra": a kind the national list does not name


class PlatformOperation(StrEnum):
    """What this platform records in a process's history."""

    CREATE_PROCESS = "create_process"
    UPDATE_METADATA = "update_metadata"
    SEND_TO_UNIT = "send_to_unit"
    RECEIVE = "receive"
    CONCLUDE = "conclude"
    REOPEN = "reopen"
    RELATE = "relate"
    SUSPEND = "suspend"
    RESUME = "resume"
    MERGE = "merge"
    ADD_DOCUMENT = "add_document"
    SIGN_DOCUMENT = "sign_document"
    CANCEL_DOCUMENT = "cancel_document"


# Our operations in the national code list. mod-sei-pen maps SEI's tasks the same way (its table
# md_pen_rel_tarefa_operacao: process created -> 05, sent to a unit -> 02, received -> 04, merged
# by anexação -> 06, document cancelled -> 03) and sends "01" Registro for every task with no
# national code; we do the same where the list has no code of its own:
_OPERATION_CODES: Mapping[PlatformOperation, str] = MappingProxyType(
    {
        PlatformOperation.CREATE_PROCESS: "05",  # Autuação
        PlatformOperation.SEND_TO_UNIT: "02",  # Envio de documento avulso/processo
        PlatformOperation.RECEIVE: "04",  # Recebimento de documento
        PlatformOperation.MERGE: "06",  # Juntada por anexação
        PlatformOperation.CANCEL_DOCUMENT: "03",  # Cancelamento/exclusão ou envio de documento
        # No national code; "01" Registro, as mod-sei-pen sends for SEI tasks without one.
        PlatformOperation.UPDATE_METADATA: "01",
        PlatformOperation.ADD_DOCUMENT: "01",
        PlatformOperation.SIGN_DOCUMENT: "01",
        # Relacionamento is a link, not a juntada (06/07), so it has no code either.
        PlatformOperation.RELATE: "01",
        # Sobrestamento and its end have no code.
        PlatformOperation.SUSPEND: "01",
        PlatformOperation.RESUME: "01",
        # Concluding or reopening a process in a unit is not archiving (09) or unarchiving (14):
        # those belong to records management. mod-sei-pen maps only SEI's archive tasks to 09/14.
        PlatformOperation.CONCLUDE: "01",
        PlatformOperation.REOPEN: "01",
    }
)


def legal_hypotheses() -> tuple[LegalHypothesis, ...]:
    """Every hipótese legal, by id."""
    return _LEGAL_HYPOTHESES


def legal_hypothesis(hypothesis_id: int, field: str = "hipoteseLegal") -> LegalHypothesis:
    found = LEGAL_HYPOTHESES.get(hypothesis_id)
    if found is None:
        problem = "não consta da lista nacional de hipóteses legais"
        raise InvalidInput(
            f"A hipótese legal {hypothesis_id} não existe na lista nacional.", [FieldError(field, problem)]
        )
    return found


def document_kinds() -> tuple[DocumentKind, ...]:
    """Every espécie documental, by code (999 "Outra" last)."""
    return tuple(DOCUMENT_KINDS.values())


def document_kind(code: int, field: str = "especie") -> DocumentKind:
    found = DOCUMENT_KINDS.get(code)
    if found is None:
        problem = "use um código de 1 a 186, ou 999 para outra espécie"
        raise InvalidInput(
            f"A espécie documental {code} não existe na lista nacional.", [FieldError(field, problem)]
        )
    return found


def history_operations() -> tuple[HistoryOperation, ...]:
    return tuple(HISTORY_OPERATIONS.values())


def history_operation(code: str, field: str = "operacao") -> HistoryOperation:
    found = HISTORY_OPERATIONS.get(code)
    if found is None:
        problem = "use um código de 01 a 18"
        raise InvalidInput(
            f"A operação {code} não existe na lista nacional de operações do histórico.",
            [FieldError(field, problem)],
        )
    return found


def operation_for(operation: PlatformOperation) -> HistoryOperation:
    """The national history operation that records one of this platform's operations."""
    return HISTORY_OPERATIONS[_OPERATION_CODES[operation]]
