-- Reference data, as a data migration: fixed ids so every environment holds the same rows,
-- and ON CONFLICT DO NOTHING so rows someone already made are left as they are.
INSERT INTO items (id, name, description, price) VALUES
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b01', 'Field notebook', 'Ninety-six dot-grid pages in a waxed cotton cover.', 14.50),
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b02', 'Fountain pen', 'Steel nib, medium, with a converter for bottled ink.', 42.00),
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b03', 'Bottled ink', 'Fifty millilitres of water-resistant blue-black.', 12.75),
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b04', 'Desk lamp', 'Warm LED on an adjustable aluminium arm.', 68.00),
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b05', 'Canvas tote', 'Heavy canvas with an inside pocket for a laptop.', 24.00),
    ('0b7e3f4a-6c1d-4e8a-9f21-3a5c7d9e1b06', 'Coffee mug', 'Stoneware, three hundred and fifty millilitres.', 16.25)
ON CONFLICT DO NOTHING;
