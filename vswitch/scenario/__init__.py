"""Running a topology's scenario: the runner that schedules actions on the engine, the performers and checks of
each feature (``frame_checks``, ``guest_actions``, ``security_checks``) working on a shared ``context``, and what
is printed afterwards (``report``, ``security_report``, ``show``)."""
