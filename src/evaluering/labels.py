"""Danish labels of the register's background variables: shared by the survey's balancing notes
and the reports (which re-export them from ``report.format``).
"""

__all__ = ["COVARIATE_NAMES", "COVARIATE_VALUES", "covariate_label"]

COVARIATE_NAMES = {"age_band": "Alder", "sex": "Køn", "origin": "Herkomst", "education": "Uddannelse",
                   "employed": "I beskæftigelse"}
COVARIATE_VALUES = {"female": "kvinde", "male": "mand", "danish": "dansk", "western": "vestlig",
                    "non_western": "ikke-vestlig", "primary": "grundskole", "upper_secondary": "gymnasial",
                    "vocational": "erhvervsfaglig", "higher": "videregående", "True": "ja", "False": "nej",
                    "unknown": "ukendt", "67+": "67 år og derover"}


def covariate_label(name: str) -> str:
    """'origin=non_western' -> 'Herkomst: ikke-vestlig'; 'age_band=30-49' -> 'Alder: 30-49 år'."""
    column, _, value = name.partition("=")
    label = COVARIATE_NAMES.get(column, column)
    if not value:
        return label
    text = COVARIATE_VALUES.get(value, value)
    if column == "age_band" and value[:1].isdigit() and "+" not in value:
        text = f"{value} år"
    return f"{label}: {text}"
