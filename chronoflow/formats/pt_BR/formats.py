# Django's own pt_BR formats for the rest (dates alone, input formats).
DATETIME_FORMAT = "d/m/Y H:i:s T"
SHORT_DATETIME_FORMAT = "d/m/Y H:i:s T"
TIME_FORMAT = "H:i:s"
