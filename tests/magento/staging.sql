-- Adobe Commerce's content staging of the catalog (Magento_CatalogStaging, not public
-- upstream; as documented by Adobe, "Content staging: database"): each product has one row
-- per version in catalog_product_entity, keyed by row_id, valid from created_in to updated_in
-- (Unix times; 2147483647 = open-ended), and the EAV values belong to a version (row_id)
-- instead of the product (entity_id). The other columns are Open Source's (schema.sql).
DROP TABLE `catalog_product_entity`, `catalog_product_entity_varchar`, `catalog_product_entity_decimal`;

CREATE TABLE `catalog_product_entity` (
  `row_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `entity_id` int(10) unsigned NOT NULL,
  `created_in` bigint(20) unsigned NOT NULL,
  `updated_in` bigint(20) unsigned NOT NULL,
  `attribute_set_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `type_id` varchar(32) NOT NULL DEFAULT 'simple',
  `sku` varchar(64) NOT NULL,
  `has_options` smallint(6) NOT NULL DEFAULT 0,
  `required_options` smallint(5) unsigned NOT NULL DEFAULT 0,
  `created_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
  `updated_at` timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  PRIMARY KEY (`row_id`),
  KEY `CATALOG_PRODUCT_ENTITY_ENTITY_ID_CREATED_IN_UPDATED_IN` (`entity_id`, `created_in`, `updated_in`),
  KEY `CATALOG_PRODUCT_ENTITY_CREATED_IN` (`created_in`),
  KEY `CATALOG_PRODUCT_ENTITY_UPDATED_IN` (`updated_in`),
  KEY `CATALOG_PRODUCT_ENTITY_SKU` (`sku`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `catalog_product_entity_varchar` (
  `value_id` int(11) NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `row_id` int(10) unsigned NOT NULL,
  `value` varchar(255) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_VARCHAR_ROW_ID_ATTRIBUTE_ID_STORE_ID` (`row_id`, `attribute_id`, `store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;

CREATE TABLE `catalog_product_entity_decimal` (
  `value_id` int(10) unsigned NOT NULL AUTO_INCREMENT,
  `attribute_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `store_id` smallint(5) unsigned NOT NULL DEFAULT 0,
  `row_id` int(10) unsigned NOT NULL,
  `value` decimal(20,6) NULL DEFAULT NULL,
  PRIMARY KEY (`value_id`),
  UNIQUE KEY `CATALOG_PRODUCT_ENTITY_DECIMAL_ROW_ID_ATTRIBUTE_ID_STORE_ID` (`row_id`, `attribute_id`, `store_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
