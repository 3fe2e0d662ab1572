"""Settings: environment variables with safe embedded defaults (SQLite under var/, huey on SQLite)."""

import os
import secrets
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MINESAFE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def _key(env_name: str, filename: str) -> str:
    """A secret from the environment, else generated once into var/ (readable by the owner only)."""
    if key := os.environ.get(env_name):
        return key
    path = VAR_DIR / filename
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def parse_database_url(url: str) -> dict:
    """sqlite:///relative/or//absolute/path, postgres://user:pass@host:port/name?options."""
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path if os.path.isabs(path) else str(BASE_DIR / path),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            },
        }
    if parts.scheme in {"postgres", "postgresql"}:
        options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "OPTIONS": options,
            "CONN_MAX_AGE": 60,
        }
    raise ValueError(f"DATABASE_URL: unsupported scheme {parts.scheme!r} (use sqlite:// or postgres://)")


SECRET_KEY = _key("MINESAFE_SECRET_KEY", "secret_key")


# The audit chain's HMAC key: outside the database, so database access alone cannot re-chain the log.
AUDIT_KEY = _key("MINESAFE_AUDIT_KEY", "audit_key")
AUDIT_ANCHOR_FILE = Path(os.environ.get("MINESAFE_AUDIT_ANCHOR_FILE", VAR_DIR / "audit-anchors.jsonl"))
DEBUG = env_bool("MINESAFE_DEBUG")
ALLOWED_HOSTS = [h for h in os.environ.get("MINESAFE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("MINESAFE_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "minesafe.core",
    "minesafe.registry",
    "minesafe.hazards",
    "minesafe.monitoring",
    "minesafe.operations",
    "minesafe.personnel",
    "minesafe.inspections",
    "minesafe.penalties",
    "minesafe.enforcement",
    "minesafe.thirdparty",
    "minesafe.officers",
    "minesafe.tipoffs",
    "minesafe.evaluation",
    "minesafe.campaigns",
    "minesafe.plan",
    "minesafe.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "minesafe.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "minesafe.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "minesafe.core.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minesafe.urls"
WSGI_APPLICATION = "minesafe.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "minesafe.web.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'minesafe.sqlite3'}")
DATABASES = {"default": parse_database_url(DATABASE_URL)}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("MINESAFE_TEST_DB_NAME", "test_minesafe")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "core.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "minesafe.core.validators.PasswordComplexityValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "login"

# 等保 2.0 level 3 baseline: lock after 5 failed logins, 30-minute idle timeout.
LOGIN_MAX_FAILURES = int(os.environ.get("MINESAFE_LOGIN_MAX_FAILURES", 5))
LOGIN_LOCK_MINUTES = int(os.environ.get("MINESAFE_LOGIN_LOCK_MINUTES", 30))
SESSION_IDLE_TIMEOUT_S = int(os.environ.get("MINESAFE_SESSION_IDLE_TIMEOUT_S", 30 * 60))
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT_S
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("MINESAFE_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# The dashboard map's basemap: a tile URL template such as https://tiles.example/{z}/{x}/{y}.png (an intranet
# tile server in production). Empty: the map draws the county outlines and the mines offline, without tiles.
MAP_BASEMAP_URL = os.environ.get("MINESAFE_MAP_BASEMAP_URL", "")
MAP_BASEMAP_ATTRIBUTION = os.environ.get("MINESAFE_MAP_BASEMAP_ATTRIBUTION", "")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "minesafe" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at start-up when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "media"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "minesafe.core.filters.ScopedFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    # JSON only: the browsable API's forms would list related rows outside the caller's scope.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "minesafe.core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MineSafe API",
    "DESCRIPTION": "Non-coal mine safety regulatory platform. Every list is scoped to the caller.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RiskBandEnum": "minesafe.enforcement.risk.RiskBand",
        "CampaignStatusEnum": "minesafe.campaigns.models.Campaign.Status",
        "CampaignSiteStatusEnum": "minesafe.campaigns.models.CampaignSite.Status",
        "PublicityEventKindEnum": "minesafe.campaigns.models.PublicityEvent.Kind",
        "PublicityAudienceEnum": "minesafe.campaigns.models.PublicityEvent.Audience",
        "ChecklistPurposeEnum": "minesafe.inspections.models.ChecklistTemplate.Purpose",
        "FormalReportKindEnum": "minesafe.plan.models.FormalReport.Kind",
        "MineStatusEnum": "minesafe.registry.models.Mine.Status",
        "SuspensionReportKindEnum": "minesafe.operations.models.SuspensionReport.Kind",
        "ControlRecordKindEnum": "minesafe.operations.models.ControlRecord.Kind",
        "HiddenFactorKindEnum": "minesafe.operations.models.HiddenFactor.Kind",
        "UpgradeProjectKindEnum": "minesafe.operations.models.UpgradeProject.Kind",
        "CertificateStateEnum": "minesafe.personnel.certificates.State",
        "ProviderStandingEnum": "minesafe.personnel.models.TrainingProvider.Standing",
        "TrainingKindEnum": "minesafe.personnel.models.TrainingRecord.Kind",
        "EducationEnum": "minesafe.personnel.models.Education",
        "PeopleFlagKindEnum": "minesafe.personnel.people.FlagKind",
        "DrillKindEnum": "minesafe.personnel.models.Drill.Kind",
        "MiningTeamModeEnum": "minesafe.personnel.models.MiningTeam.Mode",
        "RewardSeverityEnum": "minesafe.tipoffs.models.Reward.Severity",
        "TipoffStatusEnum": "minesafe.tipoffs.models.Tipoff.Status",
        "TipoffCategoryEnum": "minesafe.tipoffs.models.Tipoff.Category",
        "RewardStatusEnum": "minesafe.tipoffs.models.Reward.Status",
        "AccidentKindEnum": "minesafe.enforcement.models.AccidentKind",
        "FollowUpTaskKindEnum": "minesafe.enforcement.models.FollowUpTask.Kind",
        "HazardStatusEnum": "minesafe.hazards.models.Hazard.Status",
        "AttachmentKindEnum": "minesafe.hazards.models.HazardAttachment.Kind",
        "OrganisationKindEnum": "minesafe.core.models.Organisation.Kind",
        "RegionKindEnum": "minesafe.core.models.Region.Kind",
        "ExtensionStatusEnum": "minesafe.hazards.models.DeadlineExtension.Status",
        "InvestigationStatusEnum": "minesafe.hazards.models.Investigation.Status",
        "HazardSourceEnum": "minesafe.hazards.models.Hazard.Source",
        "LeaderLevelEnum": "minesafe.registry.models.ResponsibleLeader.Level",
        "MonitoringLevelEnum": "minesafe.monitoring.models.Level",
        "AlarmSourceEnum": "minesafe.monitoring.models.Alarm.Source",
        "AlarmStatusEnum": "minesafe.monitoring.models.Alarm.Status",
        "AlarmTierEnum": "minesafe.monitoring.models.Alarm.Tier",
        "AlarmEventKindEnum": "minesafe.monitoring.models.AlarmEvent.Kind",
        "RuleKindEnum": "minesafe.monitoring.models.Rule.Kind",
        "RuleDirectionEnum": "minesafe.monitoring.models.Rule.Direction",
        "InspectionPlanStatusEnum": "minesafe.enforcement.models.InspectionPlan.Status",
        "PlanExpertKindEnum": "minesafe.enforcement.models.PlanExpert.Kind",
        "PlanAmendmentActionEnum": "minesafe.enforcement.models.PlanAmendment.Action",
        "EquipmentKindEnum": "minesafe.enforcement.models.EquipmentItem.Kind",
        "EquipmentStatusEnum": "minesafe.enforcement.models.EquipmentItem.Status",
        "InspectionMethodEnum": "minesafe.inspections.models.Method",
        "InspectionStatusEnum": "minesafe.inspections.models.Inspection.Status",
        "InspectionItemResultEnum": "minesafe.inspections.models.InspectionItem.Result",
        "InspectionFindingStatusEnum": "minesafe.inspections.models.Finding.Status",
        "SignatureRoleEnum": "minesafe.inspections.models.Signature.Role",
        "EnforcementDocumentKindEnum": "minesafe.inspections.models.Document.Kind",
        "ServiceKindEnum": "minesafe.thirdparty.models.ServiceKind",
        "FirmStatusEnum": "minesafe.thirdparty.models.Firm.Status",
        "FirmCheckResultEnum": "minesafe.thirdparty.models.Check.Result",
        "FirmCheckStatusEnum": "minesafe.thirdparty.models.Check.Status",
        "FalsificationCaseStatusEnum": "minesafe.thirdparty.models.FalsificationCase.Status",
        "FalsificationCaseSourceEnum": "minesafe.thirdparty.models.FalsificationCase.Source",
        "FalsifiedItemEnum": "minesafe.thirdparty.models.FalsifiedItem",
        "CaseActionEnum": "minesafe.thirdparty.models.CaseAction",
        "ScoreSheetStatusEnum": "minesafe.evaluation.models.ScoreSheet.Status",
        "ObjectionStatusEnum": "minesafe.evaluation.models.Objection.Status",
        "ObjectionDecisionEnum": "minesafe.evaluation.models.Decision",
        "RankingStatusEnum": "minesafe.evaluation.services.RankStatus",
        "ControlRoleEnum": "minesafe.operations.models.ControlAssignment.Role",
        "ControlOutcomeEnum": "minesafe.operations.models.ControlRecord.Outcome",
        "ProductionFlagMethodEnum": "minesafe.monitoring.models.ProductionFlag.Method",
        "PenaltyCaseStatusEnum": "minesafe.penalties.models.PenaltyCase.Status",
        "PenaltyCaseSourceEnum": "minesafe.penalties.models.PenaltyCase.Source",
        "PenaltyPaymentTargetEnum": "minesafe.penalties.models.Payment.Target",
        "PenaltyPaymentKindEnum": "minesafe.penalties.models.Payment.Kind",
        "PenaltyChallengeKindEnum": "minesafe.penalties.models.Challenge.Kind",
        "PenaltyChallengeOutcomeEnum": "minesafe.penalties.models.Challenge.Outcome",
    },
}

HUEY_URL = os.environ.get("HUEY_REDIS_URL")
if HUEY_URL:
    HUEY = {"huey_class": "huey.RedisHuey", "name": "minesafe", "url": HUEY_URL, "immediate": False}
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "minesafe",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": env_bool("MINESAFE_HUEY_IMMEDIATE"),
    }

# Monthly ledger: the update for month M is due this many days after M ends.
LEDGER_GRACE_DAYS = int(os.environ.get("MINESAFE_LEDGER_GRACE_DAYS", 5))
# Excel uploads: a ceiling on the file and on what it unpacks to (zip bombs).
IMPORT_MAX_BYTES = int(os.environ.get("MINESAFE_IMPORT_MAX_BYTES", 10 * 1024 * 1024))
IMPORT_MAX_UNPACKED_BYTES = int(os.environ.get("MINESAFE_IMPORT_MAX_UNPACKED_BYTES", 40 * 1024 * 1024))
IMPORT_MAX_ROWS = int(os.environ.get("MINESAFE_IMPORT_MAX_ROWS", 20000))
DATA_UPLOAD_MAX_MEMORY_SIZE = IMPORT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("MINESAFE_LOG_LEVEL", "WARNING")},
}

AUTHENTICATION_BACKENDS = ["minesafe.core.backends.LockoutModelBackend"]

EMAIL_BACKEND = os.environ.get("MINESAFE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("MINESAFE_FROM_EMAIL", "minesafe@localhost")
