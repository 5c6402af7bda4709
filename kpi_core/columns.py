"""Headers: the alias table per canonical column, table-kind recognition and source-system detection.

Headers are normalised (BOM, case, spacing, punctuation) before lookup; Pipedrive's ``Deal - Value``
style prefixes and Zoho's ``X.id`` columns are handled here. The original header is kept for display.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

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
    "potential",
    "deals",
)
"""Words a header may start with before the field it names (Pipedrive ``Deal - Value``, Zoho ``Potential Owner``)."""

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
        "potential id",
        "external id c",
        "external id",
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
        "potential name",
        "nom de l opportunite",
        "verkaufschance name",
        "opportunity name de",
        "opportunity-name",
        "nombre de la oportunidad",
        "nome da oportunidade",
        "naam opportunity",
        "opportunity naam",
        "nome opportunita",
        "opportunity",
        "deal",
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
        "org name",
        "organization name",
        "organisation name",
        "customer name",
        "nom du compte",
        "accountname",
        "account name de",
        "nombre de la cuenta",
        "nome da conta",
        "accountnaam",
        "nome account",
        "kunde",
        "client",
        "cliente",
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
        "potential owner",
        "salesperson",
        "sales person",
        "assigned user",
        "proprietaire de l opportunite",
        "opportunity inhaber",
        "verkaufschance inhaber",
        "propietario de la oportunidad",
        "proprietario da oportunidade",
        "eigenaar opportunity",
        "opportunity eigenaar",
        "proprietario opportunita",
        "owned by",
        "sales owner",
        "account executive",
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
        "stage id",
        "stageid",
        "pipeline stage",
        "etape",
        "fase",
        "phase de vente",
        "verkaufsphase",
        "stadium",
        "fase de venta",
    ),
    "status": ("status", "status type", "deal status", "estado", "statut", "forecast type", "statecode", "state code"),
    "is_won": ("iswon", "is won", "won", "is closed won", "gewonnen"),
    "is_closed": ("isclosed", "is closed", "closed", "is deal closed"),
    "is_lost": ("islost", "is lost", "is closed lost", "lost", "verloren"),
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
        "tcv",
        "total contract value",
        "opportunity amount",
        "importo",
        "bedrag",
        "valeur",
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
        "win percentage",
        "win probability",
        "probabilita",
        "kans",
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
        "add time",
        "creation date",
        "created at",
        "erstelldatum",
        "data di creazione",
        "aanmaakdatum",
        "date added",
        "added on",
        "date entered pipeline",
    ),
    "close_date": (
        "close date",
        "closedate",
        "closing date",
        "est close date",
        "estimated close date",
        "expected close date",
        "close at",
        "expected close",
        "fecha de cierre",
        "data de fechamento",
        "abschlussdatum",
        "date de cloture",
        "schlusstermin",
        "schlussdatum",
        "data di chiusura",
        "sluitingsdatum",
        "closing",
        "target close date",
        "forecast close date",
    ),
    # when the deal actually closed: won and lost deals are dated by it (open ones by the close date above)
    "close_date_actual": (
        "actual close date",
        "actualclosedate",
        "close time",
        "deal closed on",
        "closed date",
        "closed on",
        "date closed",
        "closed at",
    ),
    # when a deal was won or lost: each dates only deals with that outcome
    "won_date": ("won time", "date won", "won date", "won on", "won at", "first won time"),
    "lost_date": ("lost time", "date lost", "lost date", "lost on", "lost at"),
    # what a won deal actually brought: won and lost deals are valued by it (open ones by the amount)
    "amount_actual": ("actual revenue", "actualvalue", "actual value", "actual amount"),
    "forecast_category": (
        "forecast category name",
        "forecastcategoryname",
        "forecast category",
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
        "status reason",
    ),
    "pipeline": ("pipeline", "deal pipeline", "sub pipeline", "pipeline name", "pipeline id"),
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
_USERS = {
    "user_id": ("id", "user id", "userid", "user_id", "record id"),
    "external_id": ("external id c", "external id", "externalid", "federation identifier"),
    "owner": ("name", "full name", "user name", "display name", "user"),
    "first_name": ("first name", "firstname", "given name"),
    "last_name": ("last name", "lastname", "surname", "family name"),
    "email": ("email", "email address", "e mail", "username"),
    "alias": ("alias", "nickname", "community nickname"),
    "team": ("team", "sales team", "user role name", "userrole name", "role", "user role", "department"),
    "manager": ("manager", "manager name", "manager id", "managerid"),
    "region": ("region", "territory", "regional office"),
}
_PRODUCTS = {
    "product": ("product", "product name", "name"),
    "family": ("series", "family", "product family"),
    "list_price": ("sales price", "list price", "price", "unit price"),
}
_STAGES = {
    "stage_id": ("id", "stage id", "stageid"),
    "stage": ("name", "stage name", "stage", "label"),
    "order": ("order nr", "order", "sort order", "position", "display order", "rank"),
    "pipeline": ("pipeline name", "pipeline", "pipeline id"),
    "probability": ("deal probability", "probability", "win probability"),
}
_ACCOUNTS = {
    "account_id": ("id", "account id", "accountid", "record id", "external id c", "external id"),
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
    "users": _USERS,
    "stages": _STAGES,
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
    "users": (frozenset({"user_id", "external_id", "email", "alias"}), frozenset({"owner", "first_name", "last_name"})),
    "stages": (frozenset({"stage_id"}), frozenset({"stage"}), frozenset({"order", "pipeline", "probability"})),
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
    "reps": ("team", "rep", "agent"),
    "users": ("user", "owner", "member", "staff", "employee"),
    "stages": ("stage",),
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
        return [(normalise(raw[:-3]) + " id", 0.4, "Zoho id column (the name column beside it is used)")]
    compact = norm.replace(" ", "")
    if compact != norm:
        out.append((compact, 0.9, ""))
    first, _, rest = norm.partition(" ")
    if rest and first in ENTITY_PREFIXES:  # Zoho "Potential Owner", "Deals ID"
        out.append((rest, 0.9, f"{first} field"))
    # Salesforce custom fields: Loss_Reason__c
    if norm.endswith(" c") and raw.endswith("__c"):
        out.append((norm[:-2].strip(), 0.8, "custom field"))
    # a relationship path as Data Loader writes it: Owner.External_Id__c, Account.Name
    rel, dot, field = raw.partition(".")
    if dot and rel and field and " " not in rel:
        if normalise(field) == "name":
            out.append((normalise(rel), 0.9, f"the {rel}'s name"))
        else:
            out.append((normalise(rel), 0.85, f"the {rel}'s {field}; names come from a file that lists them"))
    # "Territory (Region)": the words outside the brackets, then inside
    bracket = re.match(r"^(?P<out>[^()]+?)\s*\((?P<in>[^()]+)\)\s*$", raw)
    if bracket:
        out.append((normalise(bracket.group("out")), 0.9, ""))
        out.append((normalise(bracket.group("in")), 0.8, ""))
    return out


ISO_CURRENCIES = frozenset(
    re.findall(
        r"[A-Z]{3}",
        """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL
    HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD
    MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR
    RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH
    UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""",
    )
)
"""ISO 4217 codes (a header such as ``Value(AUD)`` names its currency with one)."""

_CONVERTED = (
    re.compile(r"^(?P<base>.+?)\s*\((?:converted|base|company currency|corporate currency)\)$", re.IGNORECASE),
    re.compile(
        r"^(?P<base>.+?)\s+(?:converted|in (?:company|base|corporate|home|default|org|organi[sz]ation) currency)$",
        re.IGNORECASE,
    ),
    re.compile(r"^converted\s+(?P<base>.+)$", re.IGNORECASE),
    re.compile(r"^(?P<base>.+?)\s*\((?P<code>[A-Za-z]{3})\)$"),
)


def converted_header(header: str) -> tuple[str, str | None] | None:
    """A money header that says its amounts were converted by the CRM: the base header and the currency code
    when the header names it.

    >>> converted_header("Amount (converted)"), converted_header("Value(AUD)"), converted_header("Amount")
    (('Amount', None), ('Value', 'AUD'), None)
    """
    raw = header.replace("\ufeff", "").strip()
    for pattern in _CONVERTED:
        found = pattern.match(raw)
        if not found:
            continue
        code = found.groupdict().get("code")
        if code is not None and code.upper() not in ISO_CURRENCIES:
            continue
        return found.group("base").strip(), code.upper() if code else None
    return None


MONEY_ROLES = ("amount", "amount_actual")
"""Deal money columns an export may also carry converted to one currency (``<role>_converted``)."""
COALESCED = frozenset(
    {"close_date", "close_date_actual", "amount", "amount_actual", "deal_id", "activity_date", "created_date"}
)
"""Canonical columns several headers may fill (the most confident first, the others where it is empty)."""


def _lookup(kind: str) -> dict[str, tuple[str, int]]:
    lookup: dict[str, tuple[str, int]] = {}
    for canonical, names in ALIASES[kind].items():
        for rank, name in enumerate(names):
            for key in {name, name.replace(" ", "")}:
                if key not in lookup or rank < lookup[key][1]:
                    lookup[key] = (canonical, rank)
    return lookup


def _propose(header: str, lookup: Mapping[str, tuple[str, int]]) -> tuple[str, float, int, str] | None:
    """The canonical column a header names: (canonical, score, alias rank, note)."""
    for key, confidence, note in _candidates(header):
        hit = lookup.get(key)
        if hit is not None:
            canonical, rank = hit
            score = confidence * (1.0 if rank < 3 else 0.9)
            return canonical, score, rank, note or ("exact name" if rank == 0 and confidence == 1.0 else "known alias")
    return None


def _money_variant(header: str, lookup: Mapping[str, tuple[str, int]]) -> tuple[str, str] | None:
    """Converted deal amounts and the currency column beside them: (canonical, note)."""
    raw = header.replace("\ufeff", "").strip()
    converted = converted_header(raw)
    if converted is not None:
        base = _propose(converted[0], lookup)
        if base is not None and base[0] in MONEY_ROLES:
            where = converted[1] or "the company currency"
            return f"{base[0]}_converted", f"converted by the CRM to {where}: money KPIs use it"
    if raw.lower().endswith(" currency"):
        owner = raw[: -len(" currency")]
        variant = _money_variant(owner, lookup) if owner else None
        if variant is not None and variant[0].endswith("_converted"):
            return "currency_converted", f"the currency of {owner}"
    return None


def map_columns(headers: Sequence[str], kind: str) -> list[ColumnMap]:
    """Map original headers onto the canonical columns of ``kind``; each canonical column is used once
    (by the most confident header) unless it is one several headers can fill (coalesced)."""
    lookup = _lookup(kind)
    result: list[ColumnMap] = [ColumnMap(h, None, 0.0, "not used") for h in headers]
    proposals: list[tuple[int, str, float, int, str]] = []
    for i, header in enumerate(headers):
        if normalise(header) in ROW_FLAGS:
            result[i] = ColumnMap(header, "row_flag", 1.0, ROW_FLAGS[normalise(header)][1])
            continue
        variant = _money_variant(header, lookup) if kind == "deals" else None
        if variant is not None:
            proposals.append((i, variant[0], 0.95, 0, variant[1]))
            continue
        hit = _propose(header, lookup)
        if hit is not None:
            proposals.append((i, hit[0], hit[1], hit[2], hit[3]))
    taken: dict[str, float] = {}
    for i, canonical, score, _rank, note in sorted(proposals, key=lambda p: (-p[2], p[3], p[0])):
        if canonical in taken and canonical not in COALESCED:
            result[i] = ColumnMap(headers[i], None, 0.0, f"also looks like {canonical}; a better match is used")
            continue
        if canonical in taken:
            note = f"{note}; fills {canonical} where the better column is empty"
            score = min(score, 0.7)
        taken[canonical] = max(taken.get(canonical, 0.0), score)
        result[i] = ColumnMap(headers[i], canonical, round(score, 2), note)
    if kind == "deals" and any(m.canonical == "currency_converted" for m in result):
        result = [
            replace(m, note=m.note.replace("the company currency", "the currency in its Currency column"))
            if m.canonical in ("amount_converted", "amount_actual_converted")
            else m
            for m in result
        ]
    if kind == "deals":
        for i, header in enumerate(headers):
            entered = hubspot_stage_column(header)
            if entered:
                result[i] = ColumnMap(header, f"entered:{entered[0]}", 0.95, "HubSpot stage entry date (stage history)")
    return result


def canonical_options(kind: str) -> list[str]:
    """What a column of a ``kind`` file can be mapped to (for a mapping editor)."""
    extra = ["amount_converted", "amount_actual_converted", "currency_converted"] if kind == "deals" else []
    return [*ALIASES[kind], *extra]


ROW_FLAGS: Mapping[str, tuple[str, str]] = {
    "isdeleted": ("deleted", "deleted flag: rows marked deleted are left out"),
    "is deleted": ("deleted", "deleted flag: rows marked deleted are left out"),
    "deleted": ("deleted", "deleted flag: rows marked deleted are left out"),
    "fivetran deleted": ("deleted", "deleted flag: rows marked deleted are left out"),
    "sdc deleted at": ("deleted_at", "deletion time: rows with one are left out"),
    "deleted at": ("deleted_at", "deletion time: rows with one are left out"),
    "deletedat": ("deleted_at", "deletion time: rows with one are left out"),
    "fivetran active": ("active", "history flag: old versions of a record (not active) are left out"),
}
"""Normalised headers that mark rows which are not live records, any table: what the flag means, and why."""

_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("created_date", ("created", "creation", "opened")),
    ("close_date", ("close", "closing", "closed")),
    ("owner", ("owner", "rep", "salesperson", "assigned", "user")),
    ("account", ("account", "company", "customer", "organization", "organisation", "client")),
    ("amount", ("amount", "value", "revenue", "price", "total", "acv", "tcv", "arr")),
    ("stage", ("stage", "phase")),
)
"""Words in an unmapped header that hint at a canonical column (used for suggestions)."""


def hinted(header: str) -> list[str]:
    """Canonical columns an unmapped header's words hint at, most specific first.

    >>> hinted("DateTimeCreated__c"), hinted("LastModifiedDate__c"), hinted("Deal_Owner_Name__c")
    (['created_date'], [], ['owner'])
    """
    words = set(re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", header).lower()))
    return [canonical for canonical, keys in _WORDS if words & set(keys)]


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


def _signs(own: str, shared: str) -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(x.strip() for x in own.split(";") if x.strip()), frozenset(
        x.strip() for x in shared.split(";") if x.strip()
    )


SOURCE_SIGNS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    # API names are written without spaces (they match StageName, STAGENAME and stage_name); labels with spaces
    "salesforce": _signs(
        "stagename; iswon; isclosed; closedate; accountid; ownerid; forecastcategoryname; isconverted; whatid; whoid;"
        "opportunityid; currencyisocode; systemmodstamp; createdbyid; lastmodifiedbyid; pricebook2id; isdeleted;"
        "hasopportunitylineitem; recordtypeid; createddate; leadsource; expectedrevenue; laststagechangedate;"
        "opportunity owner; opportunity name; opportunity id 18; stage duration; fiscal period; amount converted;"
        "amount converted currency; amount currency; probability; lead owner",
        "close date; created date; account name; lead source; type; stage; amount; opportunity id",
    ),
    "hubspot": _signs(
        "dealstage; dealname; hubspotownerid; hsobjectid; deal stage; create date; is deal closed; is closed won;"
        "amount in company currency; deal probability; closed lost reason; closed won reason; hubspot owner;"
        "hubspot team; associated company; associated company domain; associated contact; associated contact email;"
        "number of sales activities; nombre del negocio; etapa del negocio; nome do negocio; etapa do negocio",
        "record id; deal name; deal owner; close date; pipeline; deal type; amount",
    ),
    "zoho": _signs(
        "closing date; potential name; potential owner; potential id; forecast type; created time; modified time;"
        "last activity time; leadid; age in days; sub pipeline; reason for loss",
        "deal owner; record id; deal name; account name; expected revenue; lead source; stage; amount",
    ),
    "pipedrive": _signs(
        "addtime; wontime; losttime; closetime; updatetime; stagechangetime; firstwontime; rottentime; orgname;"
        "orgid; personname; personid; stageid; pipelineid; weightedvalue; formattedvalue; visibleto;"
        "doneactivitiescount; undoneactivitiescount; activitiescount; emailmessagescount; productscount; notescount;"
        "followerscount; participantscount; deal created; deal closed on; currency of value; won time; lost time",
        "title; value; currency; status; ownername; owner name; user name; expectedclosedate; expected close date;"
        "stage name; pipeline name; organization name",
    ),
    "dynamics": _signs(
        "topic; est close date; est revenue; potential customer; created on; modified on; actual revenue;"
        "actual close date; status reason; pipeline phase; sales stage; statecode; statuscode",
        "owner; status; probability; forecast category",
    ),
    "close": _signs(
        "status type; status label; value currency; date won; date lost; value period; statustype; statuslabel;"
        "valuecurrency; datewon; datelost; valueperiod",
        "lead name; leadname; confidence; user name; username; expected value; annualized value",
    ),
    "freshsales": _signs(
        "deal value; deal pipeline; closed date; payment status",
        "expected close date; deal name; owner; deal stage",
    ),
    "maven": _signs("salesagent; engagedate; closevalue; dealstage; opportunityid", ""),
}
"""Per CRM: header names only it writes (2 points each) and names it shares with others (1 point each)."""

LABELS = {
    "salesforce": "Salesforce",
    "hubspot": "HubSpot",
    "zoho": "Zoho CRM",
    "pipedrive": "Pipedrive",
    "dynamics": "Dynamics 365",
    "close": "Close",
    "freshsales": "Freshsales",
    "maven": "Maven sample data",
    "generic": "generic",
}


def explain_source(headers: Sequence[str], text_head: str, file_name: str) -> tuple[str, str]:
    """The CRM that wrote a file and the evidence, from its headers, its first/last lines and its name.

    Each CRM scores its own header names (2 points) and names it shares (1 point); a structural mark (Dynamics'
    ``(Do Not Modify)`` columns, Pipedrive's ``Deal - `` prefixes, Zoho's ``X.id`` pairs, a salesforce.com
    footer, Salesforce ``__c`` custom fields) counts 4. The best needs 3 points and a clear lead; otherwise the
    file is "generic", with the reason.

    >>> explain_source(["Deal - Title", "Deal - Value"], "", "deals.csv")[0], explain_source(["Topic", "Est. Revenue"], "", "x.xlsx")[0]
    ('pipedrive', 'dynamics')
    >>> explain_source(["Name", "Amount", "Stage"], "", "deals.csv")
    ('generic', 'too little evidence (Amount, Stage could be Salesforce)')
    """
    raw = [h.replace("\ufeff", "").strip() for h in headers]
    points: dict[str, float] = {source: 0.0 for source in SOURCE_SIGNS}
    marks: dict[str, list[tuple[float, str]]] = {source: [] for source in SOURCE_SIGNS}

    def mark(source: str, weight: float, why: str) -> None:
        points[source] += weight
        marks[source].append((weight, why))

    if any(h.startswith("(Do Not Modify)") for h in raw):
        mark("dynamics", 4, "(Do Not Modify) columns")
    if sum(h.split(" - ")[0] in ("Deal", "Organization", "Person", "Activity") for h in raw if " - " in h) >= 2:
        mark("pipedrive", 4, "'Deal - ' headers")
    if sum(h.endswith(".id") for h in raw) >= 1 and not any(h.lower().endswith("__c") for h in raw):
        mark("zoho", 4, "'X.id' lookup columns")
    if "salesforce.com" in text_head.lower():
        mark("salesforce", 4, "salesforce.com footer")
    if any(h.lower().endswith("__c") for h in raw):
        mark("salesforce", 4, "__c custom fields")
    if any(hubspot_stage_column(h) for h in raw):
        mark("hubspot", 4, "'Date entered' stage columns")
    if "hubspot" in file_name.lower():
        mark("hubspot", 2, "the file name")
    if any((converted_header(h) or ("", None))[1] for h in raw):
        mark("pipedrive", 1, "a 'Value(<currency>)' column")

    def key_of(header: str) -> str:
        entity, dash, rest = header.partition(" - ")
        if dash and normalise(entity) in ENTITY_PREFIXES:  # Pipedrive "Deal - Deal created": the field's name
            header = rest
        return normalise(header) if " " in header else normalise(header).replace(" ", "")

    keys = [(h, key_of(h)) for h in raw]
    for source, (own, shared) in SOURCE_SIGNS.items():
        for h, key in keys:
            if key in own:
                mark(source, 2, h)
            elif key in shared:
                mark(source, 1, h)
    evidence = {s: [why for _, why in sorted(found, key=lambda m: -m[0])] for s, found in marks.items()}
    ranked = sorted(points, key=lambda s: -points[s])
    best, second = ranked[0], ranked[1]
    if points[best] == 0:
        return "generic", "no header is specific to one CRM"
    if points[best] < 3 or not any(weight >= 2 for weight, _ in marks[best]):
        return "generic", f"too little evidence ({', '.join(evidence[best][:3])} could be {LABELS[best]})"
    if points[best] < 1.5 * points[second]:
        return "generic", (
            f"the headers fit {LABELS[best]} ({', '.join(evidence[best][:3])}) and {LABELS[second]} "
            f"({', '.join(evidence[second][:3])}) alike"
        )
    return best, f"{LABELS[best]}: {', '.join(evidence[best][:5])}"


def detect_source(headers: Sequence[str], text_head: str, file_name: str) -> str:
    """The CRM that wrote a file (see :func:`explain_source`).

    >>> detect_source(["Deal - Title", "Deal - Value"], "", "deals.csv"), detect_source(["Topic", "Est. Revenue"], "", "x.xlsx")
    ('pipedrive', 'dynamics')
    """
    return explain_source(headers, text_head, file_name)[0]
