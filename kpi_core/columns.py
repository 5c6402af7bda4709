"""Headers: the alias table per canonical column, table-kind recognition and source-system detection.

Headers are normalised (BOM, case, spacing, punctuation) before lookup; Pipedrive's ``Deal - Value``
style prefixes and Zoho's ``X.id`` columns are handled here. The original header is kept for display.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

ENTITY_PREFIXES = (
    "deal",
    "opportunity",
    "organization",
    "organisation",
    "person",
    "activity",
    "lead",
    "obchod",
    "negocio",
)

# canonical column -> normalised aliases, per table kind; the first aliases are the most certain
_DEALS: dict[str, tuple[str, ...]] = {
    "deal_id": (
        "deal id",
        "opportunity id",
        "opportunity id 18",
        "opportunity id 18 digit",
        "id",
        "record id",
        "dealid",
        "hs object id",
        "negocio id",
        "id del negocio",
        "deal - id",
        "opportunity number",
        "do not modify opportunity",
        "opportunity_id",
    ),
    "deal_name": (
        "deal name",
        "opportunity name",
        "name",
        "dealname",
        "topic",
        "title",
        "nombre del negocio",
        "nome do negocio",
        "nom de la transaction",
        "deal titel",
        "dealname",
    ),
    "account": (
        "account name",
        "account",
        "accountid",
        "account id",
        "account id 18",
        "company",
        "company name",
        "organization",
        "organisation",
        "potential customer",
        "customer",
        "end customer",
        "lead name",
        "empresa",
        "unternehmen",
        "entreprise",
        "associated company",
        "nombre de la empresa",
    ),
    "owner": (
        "opportunity owner",
        "deal owner",
        "owner",
        "ownerid",
        "owner id",
        "owner name",
        "hubspot owner",
        "user name",
        "sales agent",
        "sales rep",
        "rep",
        "assigned to",
        "propietario del negocio",
        "proprietario do negocio",
        "deal inhaber",
        "proprietaire de la transaction",
        "propietario",
    ),
    "stage": (
        "stage",
        "stagename",
        "stage name",
        "deal stage",
        "dealstage",
        "pipeline phase",
        "sales stage",
        "status label",
        "etapa del negocio",
        "etapa do negocio",
        "etapa",
        "deal phase",
        "dealphase",
        "etape de la transaction",
        "phase",
    ),
    "status": ("status", "status type", "deal status", "estado", "statut"),
    "is_won": ("iswon", "is won", "won", "is closed won", "gewonnen"),
    "is_closed": ("isclosed", "is closed", "closed", "is deal closed"),
    "amount": (
        "amount",
        "value",
        "deal value",
        "est revenue",
        "estimated revenue",
        "close value",
        "valor",
        "importe",
        "monto",
        "betrag",
        "montant",
        "amount in company currency",
        "amount converted",
        "tcv",
        "total contract value",
        "opportunity amount",
    ),
    "currency": (
        "currency",
        "currencyisocode",
        "currency iso code",
        "opportunity currency",
        "amount currency",
        "currency of value",
        "deal currency",
        "moneda",
        "moeda",
        "wahrung",
        "devise",
        "value currency",
    ),
    "probability": (
        "probability",
        "deal probability",
        "confidence",
        "probabilidad",
        "probabilidade",
        "wahrscheinlichkeit",
        "probabilite",
        "hs deal stage probability",
    ),
    "created_date": (
        "created date",
        "createddate",
        "create date",
        "createdate",
        "created on",
        "deal created",
        "created time",
        "date created",
        "created",
        "engage date",
        "fecha de creacion",
        "data de criacao",
        "erstellungsdatum",
        "date de creation",
        "erstellt am",
    ),
    "close_date": (
        "close date",
        "closedate",
        "closing date",
        "deal closed on",
        "closed date",
        "closed on",
        "est close date",
        "estimated close date",
        "expected close date",
        "close at",
        "date won",
        "won time",
        "lost time",
        "date lost",
        "fecha de cierre",
        "data de fechamento",
        "abschlussdatum",
        "date de cloture",
        "schlusstermin",
    ),
    "forecast_category": (
        "forecast category",
        "forecastcategoryname",
        "forecast category name",
        "forecastcategory",
        "categoria de pronostico",
    ),
    "deal_type": ("deal type", "type", "opportunity type", "dealtype", "tipo de negocio", "tipo"),
    "lead_source": (
        "lead source",
        "leadsource",
        "source",
        "original traffic source",
        "primary campaign source",
        "source channel",
        "source origin",
        "origen",
        "fonte",
        "quelle",
    ),
    "lost_reason": (
        "lost reason",
        "loss reason",
        "closed lost reason",
        "reason for loss",
        "loss reason c",
        "lossreason c",
        "motivo de perdida",
        "verlustgrund",
    ),
    "pipeline": ("pipeline", "deal pipeline", "sub pipeline", "pipeline name"),
    "region": ("region", "regional office", "territory", "sales region"),
    "product": ("product", "product name", "products", "associated product", "product line"),
    "segment": ("segment", "customer segment", "market segment"),
    "team": ("team", "sales team"),
    "gross_profit": ("gross profit", "margin amount", "profit"),
    "cost": ("cost", "costs"),
}
_HISTORY = {
    "deal_id": ("opportunityid", "opportunity id", "deal id", "deal"),
    "stage": ("stagename", "stage name", "stage", "to stage", "new stage"),
    "entered_at": (
        "createddate",
        "created date",
        "entered at",
        "date entered",
        "changed at",
        "stage change date",
        "date",
    ),
}
_ACTIVITIES = {
    "activity_id": ("activity id", "id", "task id", "event id", "record id"),
    "owner": ("assigned to", "assigned to user", "ownerid", "owner", "activity owner", "user", "owner name"),
    "type": ("type", "activity type", "tasksubtype", "task subtype", "call type", "subject"),
    "activity_date": (
        "activity date",
        "activitydate",
        "activitydatetime",
        "activity date time",
        "due date",
        "completeddatetime",
        "completed date",
        "date",
        "start date",
        "start",
        "createddate",
        "created date",
    ),
    "deal_id": ("whatid", "related to", "deal", "deal id", "opportunity id", "opportunity"),
    "lead_id": ("whoid", "lead id", "lead"),
    "account": ("accountid", "account", "organization", "account name"),
    "completed": ("isclosed", "done", "completed", "is completed"),
}
_LEADS = {
    "lead_id": ("lead id", "id", "record id"),
    "owner": ("lead owner", "ownerid", "owner", "contact owner", "owner name"),
    "source": ("lead source", "leadsource", "source", "original traffic source"),
    "status": ("lead status", "status", "lifecycle stage"),
    "created_at": ("created date", "createddate", "create date", "created time", "created on", "created"),
    "converted": ("isconverted", "is converted", "converted"),
    "converted_date": ("converteddate", "converted date", "conversion date"),
    "converted_deal_id": (
        "convertedopportunityid",
        "converted opportunity id",
        "converted opportunity",
        "converted deal",
    ),
    "first_response_at": (
        "first response at",
        "first response",
        "first responded",
        "first contacted",
        "first contact date",
        "first engagement date",
        "hs sa first engagement date",
        "first outreach date",
        "first touch",
    ),
    "region": ("region", "territory"),
}
_SUBSCRIPTIONS = {
    "account": ("account", "account name", "customer", "company"),
    "start_date": ("start date", "subscription start", "contract start", "start"),
    "end_date": ("end date", "subscription end", "contract end", "cancel date", "churn date", "end"),
    "mrr": ("mrr", "monthly recurring revenue", "monthly amount", "monthly value"),
    "product": ("product", "plan"),
    "region": ("region",),
    "segment": ("segment",),
}
_TARGETS = {
    "period": ("period", "month", "quarter", "fiscal period"),
    "kpi": ("kpi", "metric"),
    "value": ("target", "quota", "value", "amount"),
    "owner": ("owner", "rep", "sales agent", "user"),
    "region": ("region",),
    "product": ("product",),
    "team": ("team",),
}
_SPEND = {
    "period": ("period", "month", "quarter"),
    "sales_cost": ("sales cost", "sales costs", "sales spend", "sales expense"),
    "marketing_cost": ("marketing cost", "marketing costs", "marketing spend", "marketing expense"),
    "region": ("region",),
    "segment": ("segment",),
}
_RATES = {
    "currency": ("currency", "currency code", "isocode", "iso code", "from currency"),
    "rate": ("rate", "conversion rate", "conversionrate", "exchange rate", "fx rate"),
    "valid_from": ("valid from", "startdate", "start date", "date", "effective date"),
}
_REPS = {
    "owner": ("sales agent", "owner", "rep", "sales rep", "user", "full name", "name"),
    "team": ("team", "sales team"),
    "manager": ("manager", "sales manager"),
    "region": ("regional office", "region", "territory"),
}
_PRODUCTS = {
    "product": ("product", "product name", "name"),
    "family": ("series", "family", "product family"),
    "list_price": ("sales price", "list price", "price", "unit price"),
}
_ACCOUNTS = {
    "account": ("account", "account name", "name", "company"),
    "segment": ("segment", "customer segment"),
    "industry": ("sector", "industry"),
    "size": ("employees", "number of employees", "numberofemployees", "size", "company size"),
    "region": ("region", "sales region"),
}

ALIASES: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "deals": _DEALS,
    "stage_history": _HISTORY,
    "activities": _ACTIVITIES,
    "leads": _LEADS,
    "subscriptions": _SUBSCRIPTIONS,
    "targets": _TARGETS,
    "spend": _SPEND,
    "rates": _RATES,
    "reps": _REPS,
    "products": _PRODUCTS,
    "accounts": _ACCOUNTS,
}
"""Table kind -> canonical column -> normalised header aliases (most certain first)."""

REQUIRED: Mapping[str, tuple[frozenset[str], ...]] = {
    "deals": (frozenset({"stage", "status", "is_won"}), frozenset({"amount", "close_date", "deal_name"})),
    "stage_history": (frozenset({"deal_id"}), frozenset({"stage"}), frozenset({"entered_at"})),
    "activities": (frozenset({"activity_date"}), frozenset({"type", "owner"})),
    "leads": (
        frozenset({"created_at"}),
        frozenset({"lead_id"}),
        frozenset({"converted", "status", "source", "first_response_at"}),
    ),
    "subscriptions": (frozenset({"account"}), frozenset({"start_date"}), frozenset({"mrr"})),
    "targets": (frozenset({"period"}), frozenset({"value"})),
    "spend": (frozenset({"period"}), frozenset({"sales_cost", "marketing_cost"})),
    "rates": (frozenset({"currency"}), frozenset({"rate"})),
    "reps": (frozenset({"owner"}), frozenset({"team", "manager", "region"})),
    "products": (frozenset({"product"}), frozenset({"family", "list_price"})),
    "accounts": (frozenset({"account"}), frozenset({"segment", "industry", "size", "region"})),
}
"""Per kind: groups of canonical columns; a file needs one column of every group."""

NAME_HINTS: Mapping[str, tuple[str, ...]] = {
    "deals": ("opportunit", "deal", "pipeline", "negocio", "report"),
    "stage_history": ("history", "historial", "stage_change"),
    "activities": ("task", "event", "activit", "call", "meeting", "email"),
    "leads": ("lead", "prospect"),
    "subscriptions": ("subscription", "mrr", "contract", "billing"),
    "targets": ("target", "quota", "goal"),
    "spend": ("spend", "cost", "budget"),
    "rates": ("rate", "currency", "fx"),
    "reps": ("team", "rep", "user", "agent"),
    "products": ("product",),
    "accounts": ("account", "compan", "customer"),
}

_HUBSPOT_ENTERED = re.compile(
    r"^date entered\s*[\"'“”‘’](?P<stage>.+?)\s*(?:\((?P<pipeline>[^()]*)\))?\s*[\"'“”‘’]\s*$", re.IGNORECASE
)


def normalise(header: str) -> str:
    """``'\\ufeffProbability (%)'`` -> ``'probability'``; accents folded, punctuation to spaces.

    >>> normalise("Est. Close Date"), normalise("STAGENAME"), normalise("Fecha de creación")
    ('est close date', 'stagename', 'fecha de creacion')
    """
    text = header.replace("\ufeff", "").replace("ï»¿", "").strip()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = text.replace("&", " and ").replace("%", " ")
    text = re.sub(r"[^0-9a-z]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def hubspot_stage_column(header: str) -> tuple[str, str | None] | None:
    """``Date entered "Closed Won (Sales Pipeline)"`` -> ``("Closed Won", "Sales Pipeline")``."""
    found = _HUBSPOT_ENTERED.match(header.replace("\ufeff", "").strip())
    if not found:
        return None
    return found.group("stage").strip(), (found.group("pipeline") or "").strip() or None


@dataclass(frozen=True)
class ColumnMap:
    """How one original header maps: canonical column (None: unused), confidence 0-1 and why."""

    original: str
    canonical: str | None
    confidence: float
    note: str


def _candidates(header: str) -> list[tuple[str, float, str]]:
    """Normalised forms of a header to look up, with their confidence and a note."""
    norm = normalise(header)
    out = [(norm, 1.0, "")]
    raw = header.replace("\ufeff", "").strip()
    if " - " in raw:
        entity, _, rest = raw.partition(" - ")
        if normalise(entity) in ENTITY_PREFIXES:
            out.append((normalise(rest), 0.95, f"{entity.strip()} field"))
    if raw.lower().endswith(".id"):
        out = [(normalise(raw[:-3]) + " id", 0.4, "Zoho id column (the name column beside it is used)")]
    compact = norm.replace(" ", "")
    if compact != norm:
        out.append((compact, 0.9, ""))
    # Salesforce custom fields: Loss_Reason__c
    if norm.endswith(" c") and raw.endswith("__c"):
        out.append((norm[:-2].strip(), 0.8, "custom field"))
    return out


def map_columns(headers: Sequence[str], kind: str) -> list[ColumnMap]:
    """Map original headers onto the canonical columns of ``kind``; each canonical column is used once
    (by the most confident header) unless it is a date that several headers can fill (coalesced)."""
    aliases = ALIASES[kind]
    lookup: dict[str, tuple[str, int]] = {}
    for canonical, names in aliases.items():
        for rank, name in enumerate(names):
            for key in {name, name.replace(" ", "")}:
                if key not in lookup or rank < lookup[key][1]:
                    lookup[key] = (canonical, rank)
    proposals: list[tuple[int, str, float, str]] = []
    for i, header in enumerate(headers):
        for key, confidence, note in _candidates(header):
            hit = lookup.get(key)
            if hit is not None:
                canonical, rank = hit
                score = confidence * (1.0 if rank < 3 else 0.9)
                proposals.append(
                    (i, canonical, score, note or ("exact name" if rank == 0 and confidence == 1.0 else "known alias"))
                )
                break
    result: list[ColumnMap] = [ColumnMap(h, None, 0.0, "not used") for h in headers]
    taken: dict[str, float] = {}
    for i, canonical, score, note in sorted(proposals, key=lambda p: (-p[2], p[0])):
        multi = canonical in ("close_date", "amount", "deal_id", "activity_date", "created_date")
        if canonical in taken and not multi:
            result[i] = ColumnMap(headers[i], None, 0.0, f"also looks like {canonical}; a better match is used")
            continue
        if canonical in taken:
            note = f"{note}; fills {canonical} where the better column is empty"
            score = min(score, 0.7)
        taken[canonical] = max(taken.get(canonical, 0.0), score)
        result[i] = ColumnMap(headers[i], canonical, round(score, 2), note)
    if kind == "deals":
        for i, header in enumerate(headers):
            entered = hubspot_stage_column(header)
            if entered:
                result[i] = ColumnMap(header, f"entered:{entered[0]}", 0.95, "HubSpot stage entry date (stage history)")
    return result


def score_kind(mapping: Sequence[ColumnMap], kind: str, file_name: str) -> float:
    """How well a file's mapped columns describe ``kind``; 0 when a required group is missing."""
    present = {m.canonical for m in mapping if m.canonical}
    if not all(group & present for group in REQUIRED[kind]):
        return 0.0
    score = sum(m.confidence for m in mapping if m.canonical and not m.canonical.startswith("entered:"))
    name = file_name.lower()
    if any(hint in name for hint in NAME_HINTS[kind]):
        score += 3.0
    return score


SOURCE_SIGNS: tuple[tuple[str, frozenset[str], int], ...] = (
    # source, normalised headers that point to it, how many of them must be present
    (
        "salesforce",
        frozenset(
            {
                "stagename",
                "iswon",
                "isclosed",
                "closedate",
                "opportunityid",
                "isconverted",
                "whatid",
                "opportunity owner",
                "opportunity name",
                "forecastcategoryname",
                "leadsource",
            }
        ),
        1,
    ),
    (
        "hubspot",
        frozenset(
            {
                "dealstage",
                "dealname",
                "hubspot owner",
                "hs object id",
                "deal stage",
                "deal name",
                "record id",
                "nombre del negocio",
                "etapa del negocio",
                "nome do negocio",
                "etapa do negocio",
            }
        ),
        2,
    ),
    ("zoho", frozenset({"closing date", "deal owner", "record id", "deal name", "account name"}), 3),
    ("dynamics", frozenset({"topic", "est close date", "est revenue", "potential customer", "created on"}), 2),
    ("close", frozenset({"status type", "status label", "value currency", "lead name", "confidence", "date won"}), 2),
    ("freshsales", frozenset({"deal value", "expected close date", "deal pipeline", "deal stage", "closed date"}), 3),
    ("maven", frozenset({"opportunity id", "sales agent", "deal stage", "engage date", "close value"}), 3),
)


def detect_source(headers: Sequence[str], text_head: str, file_name: str) -> str:
    """The CRM that wrote a file, from its headers, its first/last lines and its name.

    >>> detect_source(["Deal - Title", "Deal - Value"], "", "deals.csv"), detect_source(["Topic", "Est. Revenue"], "", "x.xlsx")
    ('pipedrive', 'dynamics')
    """
    forms = [(normalise(h), normalise(h).replace(" ", "")) for h in headers]
    raw = [h.replace("\ufeff", "").strip() for h in headers]
    name = file_name.lower()
    if any(h.startswith("(Do Not Modify)") for h in raw):
        return "dynamics"
    if sum(h.split(" - ")[0] in ("Deal", "Organization", "Person", "Activity") for h in raw if " - " in h) >= 2:
        return "pipedrive"
    if any(h.endswith(".id") for h in raw):
        return "zoho"
    if "salesforce.com" in text_head.lower():
        return "salesforce"
    if "hubspot" in name or any(hubspot_stage_column(h) for h in raw):
        return "hubspot"
    for source, signs, needed in SOURCE_SIGNS:
        if sum(1 for norm, compact in forms if norm in signs or compact in signs) >= needed:
            return source
    return "generic"
