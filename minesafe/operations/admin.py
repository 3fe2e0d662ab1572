"""Operations records are changed through services (audited transitions); the admin only reads them."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin

from . import models

for model in (models.SuspensionReport, models.ControlAssignment, models.ControlRecord, models.Offence,
              models.Census, models.HiddenFactor, models.ResumptionApplication, models.AcceptanceItem,
              models.DisposalDecision, models.PondClosurePlan, models.UpgradeProject):
    admin.site.register(model, ReadOnlyModelAdmin)
