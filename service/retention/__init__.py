"""The privacy notice's retention rules (§6): the plan, the run, the profile transfer."""
