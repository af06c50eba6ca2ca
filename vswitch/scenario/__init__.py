"""Running a topology's scenario: the runner that schedules actions on the engine, the performers and checks of
each feature (``network_actions``, ``frame_checks``, ``guest_actions``, ``security_checks``) working on a shared
``context`` and gathered in one ``registry`` by spec class, and what is printed afterwards (``report``,
``security_report``, ``show``)."""
