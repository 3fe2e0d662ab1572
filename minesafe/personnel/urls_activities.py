"""URL patterns of the drills, exams and contractors part of the personnel app (included by urls.py under the
"personnel" namespace)."""

from django.urls import path

from . import views_activities as views

urlpatterns = [
    path("personnel/drills/", views.drill_list, name="drill-list"),
    path("personnel/mines/<int:mine_pk>/drills/", views.drill_mine, name="drill-mine"),
    path("personnel/plans/", views.plan_list, name="plan-list"),
    path("personnel/mines/<int:mine_pk>/plans/", views.plan_mine, name="plan-mine"),
    path("personnel/exams/", views.exam_list, name="exam-list"),
    path("personnel/exams/<int:pk>/", views.exam_detail, name="exam-detail"),
    path("personnel/exams/take/<int:person_pk>/", views.exam_take, name="exam-take"),
    path("personnel/exams/person/<int:person_pk>/", views.exam_person, name="exam-person"),
    path("personnel/mines/<int:mine_pk>/exams/", views.exam_mine, name="exam-mine"),
    path("personnel/exam-questions/", views.question_list, name="question-list"),
    path("personnel/exam-questions/<int:pk>/", views.question_detail, name="question-detail"),
    path("personnel/contractors/", views.contractor_list, name="contractor-list"),
    path("personnel/mines/<int:mine_pk>/contractors/", views.contractor_mine, name="contractor-mine"),
    path("personnel/teams/", views.team_share, name="team-share"),
]
