-- The tutorial's setup: a test user, a test database and two todos.
CREATE USER IF NOT EXISTS 'haproxy_user'@'localhost' IDENTIFIED BY 'tester';
CREATE USER IF NOT EXISTS 'haproxy_user'@'%' IDENTIFIED BY 'tester';
GRANT ALL PRIVILEGES ON *.* TO 'haproxy_user'@'localhost';
GRANT ALL PRIVILEGES ON *.* TO 'haproxy_user'@'%';
FLUSH PRIVILEGES;
CREATE DATABASE IF NOT EXISTS test;
CREATE TABLE IF NOT EXISTS test.todos (id int, item varchar(255), status varchar(255));
INSERT INTO test.todos VALUES (1, "task1", "pending");
INSERT INTO test.todos VALUES (2, "task2", "done");
