from django.urls import path

from . import views

app_name = "evaluation"
urlpatterns = [
    path("evaluation/", views.index, name="index"),
    path("evaluation/statistics/", views.statistics_view, name="statistics"),
    path("evaluation/statistics.xlsx", views.statistics_xlsx, name="statistics-xlsx"),
    path("evaluation/<int:year>/q<int:quarter>/", views.quarter_view, name="quarter"),
    path("evaluation/<int:year>/q<int:quarter>/ranking.xlsx", views.ranking_xlsx, name="ranking-xlsx"),
    path("evaluation/<int:year>/q<int:quarter>/<str:code>/", views.sheet_view, name="sheet"),
    path("evaluation/<int:year>/<str:period>/", views.period_view, name="period"),
]
