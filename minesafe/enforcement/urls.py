from . import urls_accidents, urls_equipment, urls_plans

app_name = "enforcement"
urlpatterns = [
    *urls_accidents.urlpatterns,
    *urls_plans.urlpatterns,
    *urls_equipment.urlpatterns,
]
