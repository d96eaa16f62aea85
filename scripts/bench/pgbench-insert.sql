-- pgbench: one single-row INSERT into a copy of test_requests with its indexes, with a
-- new id each time: the database's own rate for the write labplan does.
INSERT INTO bench_requests (id, company, test_type, samples, ready_date, due_date, priority, status, version,
  created_at, updated_at)
VALUES ('B' || nextval('bench_ids'), 'C0001', 'EMC-R10', 2, DATE '2027-03-01', DATE '2027-05-28', 2, 'submitted', 1,
  now(), now());
