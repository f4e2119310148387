-- A Magento store of 1,000,000 customers (two websites, groups 0-3) and two customer
-- segments by group, for timing `segmint magento import` and `write-back`
-- (benches/magento/write_back.sh). Needs MariaDB's Sequence engine (seq_1_to_N).
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO');
INSERT INTO store_website (website_id, code, name, sort_order, default_group_id, is_default) VALUES
  (0, 'admin', 'Admin', 0, 0, 0), (1, 'base', 'Main Website', 0, 1, 1), (2, 'eu', 'EU Website', 1, 2, 0);
INSERT INTO store_group (group_id, website_id, name, root_category_id, default_store_id, code) VALUES
  (0, 0, 'Default', 0, 0, 'default'), (1, 1, 'Main Website Store', 2, 1, 'main_website_store'), (2, 2, 'EU Store', 2, 2, 'eu_store');
INSERT INTO store (store_id, code, website_id, group_id, name, sort_order, is_active) VALUES
  (0, 'admin', 0, 0, 'Admin', 0, 1), (1, 'default', 1, 1, 'Default Store View', 0, 1), (2, 'eu_en', 2, 2, 'EU English', 0, 1);
INSERT INTO eav_entity_type (entity_type_id, entity_type_code, entity_model) VALUES (1, 'customer', 'x');
INSERT INTO customer_entity (entity_id, website_id, email, group_id, store_id, created_at, firstname, lastname)
  SELECT seq, 1 + seq % 2, CONCAT('c', seq, '@example.com'), seq % 4, 1 + seq % 2, '2025-01-01 00:00:00', 'F', 'L' FROM seq_1_to_1000000;
INSERT INTO magento_customersegment_segment (segment_id, name, is_active, apply_to, conditions_serialized, processing_frequency) VALUES
 (1, 'Group 1', 1, 0, '{"type":"Magento\\\\CustomerSegment\\\\Model\\\\Segment\\\\Condition\\\\Combine\\\\Root","aggregator":"all","value":"1","conditions":[{"type":"Magento\\\\CustomerSegment\\\\Model\\\\Segment\\\\Condition\\\\Customer\\\\Attributes","attribute":"group_id","operator":"==","value":"1"}]}', 1),
 (2, 'Groups 0 and 2', 1, 0, '{"type":"Magento\\\\CustomerSegment\\\\Model\\\\Segment\\\\Condition\\\\Combine\\\\Root","aggregator":"any","value":"1","conditions":[{"type":"Magento\\\\CustomerSegment\\\\Model\\\\Segment\\\\Condition\\\\Customer\\\\Attributes","attribute":"group_id","operator":"==","value":"0"},{"type":"Magento\\\\CustomerSegment\\\\Model\\\\Segment\\\\Condition\\\\Customer\\\\Attributes","attribute":"group_id","operator":"==","value":"2"}]}', 1);
INSERT INTO magento_customersegment_website VALUES (1,1),(1,2),(2,1),(2,2);
