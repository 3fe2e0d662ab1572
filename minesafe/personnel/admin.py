"""Personnel records change through services (audited, personal numbers masked in the log); the admin reads."""

from django.contrib import admin

from minesafe.core.admin_audit import ReadOnlyModelAdmin

from . import models

for model in (models.Person, models.Appointment, models.Certificate, models.TrainingProvider, models.ProviderCheck,
              models.TrainingRecord, models.Drill, models.EmergencyPlan, models.ExamQuestion, models.Exam,
              models.OutsourcedProject, models.MiningTeam):
    admin.site.register(model, ReadOnlyModelAdmin)
