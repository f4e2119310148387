-- The suite's segments that Magento's conditions can express (benches/segments/*.json), as
-- Magento's admin stores them, for timing `segmint magento write-back` at M
-- (benches/magento/m_scale.sh). Left out: shipped_to_gb (an order address condition
-- takes no date), lapsed_regulars and first_order_2026 (no max or min of a date),
-- birthday_week and attributes_recent_gold (derived fields, email suffixes),
-- cart_items_categories, visitor_abandoners, nested_exclusions and
-- big_spender_wholesale. `type` omits Magento's prefix
-- Magento\CustomerSegment\Model\Segment\Condition\, as magento.md allows.
INSERT INTO magento_customersegment_segment (segment_id, name, is_active, apply_to, processing_frequency, conditions_serialized) VALUES
(1, 'attributes_wholesale', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Customer\\\\Attributes","attribute":"group_id","operator":"==","value":"2, 3"},
   {"type":"Customer\\\\Newsletter","value":"1"}]}'),
(2, 'spent_500_complete', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Sales\\\\Salesamount","attribute":"total","operator":">=","value":"500","aggregator":"all","conditions":[
     {"type":"Order\\\\Status","attribute":"","operator":"==","value":"complete"},
     {"type":"Uptodate","operator":">=","value":"365"}]}]}'),
(3, 'average_order_150', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Sales\\\\Salesamount","attribute":"average","operator":">=","value":"150","aggregator":"any","conditions":[
     {"type":"Order\\\\Status","attribute":"","operator":"==","value":"complete"},
     {"type":"Order\\\\Status","attribute":"","operator":"==","value":"closed"}]}]}'),
(4, 'no_orders', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Sales\\\\Ordersnumber","operator":"<","value":"1","aggregator":"all","conditions":[]}]}'),
(5, 'cart_big', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Shoppingcart\\\\Amount","attribute":"grand_total","operator":">=","value":"200"},
   {"type":"Shoppingcart\\\\Itemsquantity","operator":">=","value":"3"}]}'),
(6, 'address_germany_billing', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Customer\\\\Address","value":"1","aggregator":"all","conditions":[
     {"type":"Customer\\\\Address\\\\DefaultAddress","operator":"==","value":"default_billing"},
     {"type":"Customer\\\\Address\\\\Attributes","attribute":"country_id","operator":"==","value":"DE"}]}]}'),
(7, 'wishlist_brands', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Product\\\\Combine\\\\ListCombine","value":"wishlist","operator":"==","aggregator":"all","conditions":[
     {"type":"Product\\\\Attributes","attribute":"brand","operator":"==","value":"Brand 01, Brand 02"}]}]}'),
(8, 'viewed_not_bought', 1, 1, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Product\\\\Combine\\\\History","value":"viewed_history","operator":"==","aggregator":"all","conditions":[
     {"type":"Product\\\\Attributes","attribute":"category_ids","operator":"==","value":"12"},
     {"type":"Uptodate","operator":">=","value":"30"}]},
   {"type":"Product\\\\Combine\\\\History","value":"ordered_history","operator":"!=","aggregator":"all","conditions":[
     {"type":"Product\\\\Attributes","attribute":"category_ids","operator":"==","value":"12"},
     {"type":"Uptodate","operator":">=","value":"30"}]}]}'),
(9, 'category_5_browsers', 1, 0, 1,
 '{"type":"Combine\\\\Root","aggregator":"all","value":"1","conditions":[
   {"type":"Product\\\\Combine\\\\History","value":"viewed_history","operator":"==","aggregator":"all","conditions":[
     {"type":"Product\\\\Attributes","attribute":"category_ids","operator":"==","value":"5"},
     {"type":"Uptodate","operator":">=","value":"30"}]}]}');
INSERT INTO magento_customersegment_website (segment_id, website_id) VALUES
  (1, 1), (2, 1), (3, 1), (3, 2), (4, 1), (4, 2), (5, 1), (5, 2), (6, 1), (7, 1), (7, 2),
  (8, 1), (9, 1), (9, 2);
