"""The words of schedules, in English and Brazilian Portuguese: the accepted-forms help,
descriptions ("At 08:00 AM", "Às 08:00") and the notes on how a schedule was read or moved.

Text only: automations/schedule.py decides what a schedule means and calls these to say it.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache

from cron_descriptor import ExpressionDescriptor, Options

ACCEPTED_FORMS = """\
Accepted schedules / Formatos aceitos:
  Once, after a delay / Uma vez, daqui a pouco:
    in 10 min, in 2 h, in 30 seconds, em 10 minutos, em 2 horas, daqui a 5 min
  Once, at a future date and time: YYYY-MM-DD HH:MM, DD/MM/YYYY HH:MM or ISO 8601
  (in the chrono's timezone unless an offset is given) /
  Uma vez, numa data e hora futura (no fuso do chrono, salvo se houver offset):
    2099-12-01 10:00, 01/12/2099 10:00, 2099-12-01T10:00:00-03:00, 2099-12-01T13:00:00Z
    tomorrow at 9am, amanhã às 9h
  Repeatedly, every interval of at least 1 second / Repetindo, a cada intervalo (mínimo 1 segundo):
    10 min, 6h, 30s, every 15 minutes, every 2 hours, a cada 15 min, a cada 30 segundos
  (1, 2, 3, 4, 6, 8 or 12 hours fire on the hour from midnight: 00:00, 02:00, ... /
   1, 2, 3, 4, 6, 8 ou 12 horas disparam na hora cheia a partir da meia-noite: 00:00, 02:00, ...)
  Every day or week at a time of day / Todo dia ou semana num horário:
    daily at 07:30, every day at 7pm, every monday at 9:00, weekdays at 08:00, weekends at 10:00
    every monday and wednesday at 9am, every tuesday and thursday at 18:00
    todo dia às 08:00, todos os dias às 7h30, toda segunda às 9h, toda sexta-feira às 18h
    todo dia às 8 da manhã, todo dia às 3 da tarde, todo dia às 8 da noite, todo dia ao meio-dia
    every day at 8am, every day at 3pm, every day at 12pm, every day at noon, every day at midnight
    toda segunda e quarta às 9h, segunda e sexta às 8h
    dias úteis às 8h, fins de semana às 10h
  Every month on a day (1-31) at a time of day / Todo mês num dia (1-31) num horário:
    todo dia 5 às 9h, todo dia 1 e 15 às 8h, every month on the 5th at 9am, monthly on the 1st at 8:00
  Every hour / De hora em hora:
    every hour, hourly, de hora em hora
  A 5-field cron expression (minute hour day-of-month month day-of-week) /
  Uma expressão cron de 5 campos (minuto hora dia mês dia-da-semana):
    0 8 * * *, */15 * * * *, 30 7 * * 1-5, 0 8 * * mon-fri, 0 8 * * seg-sex
  The old system's 6-field cron (seconds first) with seconds 0 is read as its 5 fields /
  O cron de 6 campos do sistema antigo (segundos primeiro) com segundos 0 vira 5 campos:
    0 0 8 * * *, 0 30 7 * * 1-5
  Never on its own, only when triggered (run now, webhook, message) / Só quando acionado:
    manual, on trigger, never, manualmente, sob demanda, nunca"""


_PT_NAMES = {
    "Monday": "segunda-feira", "Tuesday": "terça-feira", "Wednesday": "quarta-feira",
    "Thursday": "quinta-feira", "Friday": "sexta-feira", "Saturday": "sábado", "Sunday": "domingo",
    "January": "janeiro", "February": "fevereiro", "March": "março", "April": "abril",
    "May": "maio", "June": "junho", "July": "julho", "August": "agosto",
    "September": "setembro", "October": "outubro", "November": "novembro", "December": "dezembro",
}
_PT_NAME_PATTERN = re.compile(r"\b(" + "|".join(_PT_NAMES) + r")\b")
_INTERVAL_UNITS = (  # (seconds, en singular, en plural, pt singular, pt plural)
    (86400, "day", "days", "dia", "dias"),
    (3600, "hour", "hours", "hora", "horas"),
    (60, "minute", "minutes", "minuto", "minutos"),
    (1, "second", "seconds", "segundo", "segundos"),
)


def is_portuguese(lang: str) -> bool:
    """Django's codes too: "pt_BR", "pt-br", "pt"."""
    return lang.lower().replace("-", "_").startswith("pt")


@lru_cache(maxsize=512)
def cron(expression: str, portuguese: bool) -> str:
    options = Options()
    # cron-descriptor 1.4.5 ships pt_PT but no pt_BR (asking for pt_BR silently gives English).
    # Options() guesses from the process locale, so both fields are set explicitly.
    options.locale_code = "pt_PT" if portuguese else "en_US"
    options.use_24hour_time_format = portuguese
    try:
        text = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # cron-descriptor raises bare Exceptions; the expression itself still reads
        return expression
    if not portuguese:
        return text.replace("At 1 minutes past", "At 1 minute past")
    # Day and month names come from the `calendar` module (English here), and pt_PT's
    # "somente de segunda-feira" reads oddly in Brazil.
    text = text.replace(", somente de ", ", somente em ")
    text = text.replace(", e ", " e ")  # cron-descriptor's English serial comma: "quarta-feira, e sexta-feira"
    # "Aos 40 minutos da hora" (pt_PT, and plural for the first minute too): of *each* hour.
    text = text.replace(" minutos da hora", " minutos de cada hora").replace("Aos 1 minutos", "No minuto 1")
    text = _WEEKDAYS_ONLY.sub(lambda m: ", " + _on_weekdays(re.split(r", | e ", m.group(1))), text)
    return _PT_NAME_PATTERN.sub(lambda m: _PT_NAMES[m.group()], text)


# ", only on Monday, Wednesday, and Friday" (English names at this point): Brazilians say
# "às segundas-feiras, quartas-feiras e sextas-feiras", "aos sábados", not "somente em segunda-feira".
_WEEKDAY_NAMES = "|".join(list(_PT_NAMES)[:7])  # the English day names, Monday first
_WEEKDAYS_ONLY = re.compile(rf", somente em ((?:{_WEEKDAY_NAMES})(?:(?:, | e )(?:{_WEEKDAY_NAMES}))*)\b")


def _on_weekdays(days: list[str]) -> str:
    words, article = [], None
    for day in days:
        name = _PT_NAMES[day]
        plural = name.replace("-feira", "s-feiras") if name.endswith("-feira") else name + "s"
        gender = "às" if name.endswith("-feira") else "aos"
        words.append(plural if gender == article else f"{gender} {plural}")
        article = gender
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " e " + words[-1]


def interval(seconds: int, portuguese: bool, aligned: bool, zone_name: str) -> str:
    """'Every 15 minutes'; an interval aligned on the hour says from when it counts."""
    for size, en_one, en_many, pt_one, pt_many in _INTERVAL_UNITS:
        if seconds % size == 0:
            count = seconds // size
            break
    if portuguese:
        text = f"A cada {pt_one}" if count == 1 else f"A cada {count} {pt_many}"
    else:
        text = f"Every {en_one}" if count == 1 else f"Every {count} {en_many}"
    if not aligned:
        return text
    if seconds == 3600:
        return f"{text}, na hora cheia ({zone_name})" if portuguese else f"{text}, on the hour ({zone_name})"
    starts = range(0, 24, seconds // 3600)
    hours = ", ".join([f"{hour:02d}:00" for hour in starts[:3]] + (["…"] if len(starts) > 3 else []))
    if portuguese:
        return f"{text}, na hora cheia a partir da meia-noite ({hours}) ({zone_name})"
    return f"{text}, on the hour from midnight ({hours}) ({zone_name})"


def manual(portuguese: bool) -> str:
    if portuguese:
        return "Só quando acionado (executar agora, webhook ou mensagem)"
    return "Only when triggered (run now, webhook or message)"


def once(local: datetime, zone_name: str, portuguese: bool) -> str:
    clock = "%H:%M:%S" if local.second else "%H:%M"
    if portuguese:
        return f"Uma vez em {local.strftime('%d/%m/%Y ' + clock)} ({zone_name})"
    return f"Once at {local.strftime('%Y-%m-%d ' + clock)} ({zone_name})"


def six_field_note(typed: str, expression: str, portuguese: bool) -> str:
    if portuguese:
        return (f"convertido do cron de 6 campos {typed!r} (segundos primeiro, como no sistema antigo) "
                f"para {expression!r}")
    return f"converted from the 6-field cron {typed!r} (seconds first, as in the old system) to {expression!r}"


def gap(intended: datetime, gap_start: datetime, moved: datetime, zone_name: str, portuguese: bool) -> str:
    """The note on a fire time a DST gap moved; the three times are wall times of the zone."""
    times = {"wanted": intended.strftime("%H:%M"), "start": gap_start.strftime("%H:%M"),
             "moved": moved.strftime("%H:%M")}
    if portuguese:
        return ("{wanted} não existe em {day} em {zone} (o relógio pula de {start} para {moved}, horário de "
                "verão): executa às {moved}").format(day=intended.strftime("%d/%m/%Y"), zone=zone_name, **times)
    return ("{wanted} does not exist on {day} in {zone} (clocks jump from {start} to {moved} for DST): "
            "runs at {moved} instead").format(day=intended.strftime("%Y-%m-%d"), zone=zone_name, **times)
