-- When an overdue collector task was escalated to the owner's manager (once per task).
ALTER TABLE task ADD COLUMN escalated_on date;
