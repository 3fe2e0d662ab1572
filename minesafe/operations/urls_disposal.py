"""URL patterns of the census and disposal part of the operations app (included by urls.py under the
"operations" namespace)."""

from django.urls import path

from . import views_census, views_disposal

urlpatterns = [
    path("operations/census/", views_census.census_list, name="census-list"),
    path("operations/census/<int:pk>/", views_census.census_detail, name="census-detail"),
    path("operations/mines/<int:mine_pk>/census/", views_census.mine_census, name="census-mine"),
    path("operations/disposal/", views_disposal.disposal_list, name="disposal-list"),
    path("operations/disposal/<int:pk>/", views_disposal.disposal_detail, name="disposal-detail"),
    path("operations/ponds/", views_disposal.pond_list, name="pond-list"),
    path("operations/ponds/<int:pk>/", views_disposal.pond_detail, name="pond-detail"),
    path("operations/upgrades/", views_disposal.upgrade_list, name="upgrade-list"),
    path("operations/upgrades/<int:pk>/", views_disposal.upgrade_detail, name="upgrade-detail"),
]
