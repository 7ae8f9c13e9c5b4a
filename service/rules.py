"""The privacy notice's retention periods as date arithmetic (notice §6).

Every rule is stated in days of the Helsinki calendar (service.clock): a
period ends, and the next rule falls due, at midnight in Helsinki. These
functions are pure, so the plan, the run, the consent gate and the public
pages compute the same day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum

from service.clock import LOCAL_ZONE


class Rule(StrEnum):
    """The notice's retention rules (§6) and the register's own periods."""

    CONTACT_5_YEARS = "contact_5_years"
    PROFILE_TRANSFER_NOTICE = "profile_transfer_notice"
    PROFILE_TRANSFER_2_YEARS = "profile_transfer_2_years"
    PROFILE_NO_ACCOUNT = "profile_no_account"
    ENGAGEMENT_EVENTS = "engagement_events"
    CALL_LISTS = "call_lists"
    CLOSED_REQUESTS = "closed_requests"
    UNCONFIRMED_SIGNUPS = "unconfirmed_signups"
    # The person withdrew their profiling_report consent: every profile made
    # before it is destroyed at once, never handed over (GDPR 7(3), 17(1)(b)).
    PROFILE_CONSENT_WITHDRAWN = "profile_consent_withdrawn"
    ANONYMOUS_SITE_CONSENTS = "anonymous_site_consents"
    AUDIT_TRAIL = "audit_trail"


# "The latest service contact or contact initiative + 5 years."
CONTACT_RETENTION_YEARS = 5
# "Kept by the company at most 2 years after they were made; then transferred
# to the service provider."
PROFILE_TRANSFER_YEARS = 2
# "Kept for the two calendar years following the year of completion and
# deleted by the end of June of the third year."
NO_ACCOUNT_CALENDAR_YEARS = 2
NO_ACCOUNT_DEADLINE_MONTH_DAY = (6, 30)
# A cookie-banner decision never linked to a contact proves only what that
# browser chose; it stops mattering when the browser's consent cookie expires
# (it lasts CONSENTRY_VISIT_COOKIE_DAYS) and is kept this much longer, for a
# question about the banner asked just after.
SITE_CONSENT_MARGIN_DAYS = 30
# The dates a plan can be made for: far enough from the calendar's ends
# (year 1, year 9999) for every rule's arithmetic.
EARLIEST_AS_OF = date(1970, 1, 1)
LATEST_AS_OF = date(2999, 12, 31)


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def contact_retention_cutoff(today: date) -> date:
    """The earliest last-service-contact date still within retention on ``today``.

    A contact is within retention while ``add_years(last, 5) >= today``. Because
    ``add_years`` folds 29 February onto the 28th, simply subtracting five years
    from today is off by one day around leap days; step forward until the rule holds.
    """
    cutoff = add_years(today, -CONTACT_RETENTION_YEARS)
    while add_years(cutoff, CONTACT_RETENTION_YEARS) < today:
        cutoff += timedelta(days=1)
    return cutoff


def latest_start(limit: date, years: int) -> date:
    """The latest ``start`` with ``add_years(start, years) <= limit``.

    ``add_years`` never decreases as ``start`` grows, so the dates that qualify
    are exactly those up to this one: a query can filter on ``<=`` it.
    """
    start = add_years(limit, -years)
    while add_years(start + timedelta(days=1), years) <= limit:
        start += timedelta(days=1)
    while add_years(start, years) > limit:
        start -= timedelta(days=1)
    return start


def local_midnight(day: date) -> datetime:
    """The moment ``day`` begins in Helsinki (midnight always exists there:
    the clocks change at 03:00 and 04:00)."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_ZONE)


def local_date(moment: datetime) -> date:
    """The Helsinki calendar day of a stored (UTC) timestamp."""
    return moment.astimezone(LOCAL_ZONE).date()


# -- contacts ---------------------------------------------------------------


def contact_due_on(last_contact: date) -> date:
    """The first day a contact is outside retention: it is kept through
    ``last_contact + 5 years`` and erased the day after."""
    return add_years(last_contact, CONTACT_RETENTION_YEARS) + timedelta(days=1)


# -- behavioural profiles ---------------------------------------------------


def profile_transfer_on(completed_on: date) -> date:
    """The day a profile of a person with a vendor account is handed over
    (or destroyed, if the person forbade the transfer)."""
    return add_years(completed_on, PROFILE_TRANSFER_YEARS)


def transfer_notice_on(completed_on: date, notice_days: int) -> date:
    """The day the notice of the transfer is due: ``notice_days`` before it."""
    return profile_transfer_on(completed_on) - timedelta(days=notice_days)


def transfer_due_on(completed_on: date, notice_sent_on: date, notice_days: int) -> date:
    """The earliest day of the transfer once the notice went out on
    ``notice_sent_on``: never before the person has had ``notice_days`` days
    to forbid it, so a late notice moves the transfer later."""
    return max(profile_transfer_on(completed_on), notice_sent_on + timedelta(days=notice_days))


def no_account_due_on(completed_on: date) -> date:
    """No vendor account: kept through the two calendar years after the year
    of completion; due on 1 January of the third (2024-03-10 → 2027-01-01)."""
    return date(completed_on.year + NO_ACCOUNT_CALENDAR_YEARS + 1, 1, 1)


def no_account_deadline(completed_on: date) -> date:
    """...and deleted by 30 June of that year (2024-03-10 → 2027-06-30)."""
    month, day = NO_ACCOUNT_DEADLINE_MONTH_DAY
    return date(completed_on.year + NO_ACCOUNT_CALENDAR_YEARS + 1, month, day)


def no_account_completed_before(as_of: date) -> date:
    """Profiles completed before this day are due on ``as_of`` (completion
    year + 3 <= as_of's year)."""
    return date(as_of.year - NO_ACCOUNT_CALENDAR_YEARS, 1, 1)


# -- rows kept for a number of days ------------------------------------------


def age_cutoff(as_of: date, days: int) -> datetime:
    """Rows stamped before this moment are more than ``days`` days old on
    ``as_of``: a row of day D is due once ``as_of - D > days``."""
    return local_midnight(as_of - timedelta(days=days))


def age_due_on(stamped_at: datetime, days: int) -> date:
    """The first day a row stamped at ``stamped_at`` is more than ``days`` days old."""
    return local_date(stamped_at) + timedelta(days=days + 1)


MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def format_date(day: date, lang: str) -> str:
    """1.3.2027 in Finnish and Swedish (as written in Finland), 1 March 2027 in English."""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.day}.{day.month}.{day.year}"
