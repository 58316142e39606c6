/* gen.c — synthetic regional order files (see gen.h): an invented fixed
 * catalogue, customers and cities; orders from a per-file xoshiro256** stream,
 * one thread per file, rows formatted by hand into a big buffer, written with
 * write(2) under a temporary name and renamed. --dirty spoils chosen rows and
 * counts each one's reason. Never rand(), printf per field or floating point:
 * the same options must give the same bytes on every machine. */
#include "gen.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../csv/csv.h"
#include "../util/buf.h"
#include "../util/date.h"
#include "../util/fsutil.h"

/* ---- random numbers: splitmix64 seeds xoshiro256** ---------------------- */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, n), n > 0 (multiply-shift; the bias is irrelevant here). */
static inline uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ---- fixed tables ------------------------------------------------------- */

/* Columns in the superstore order, plus one unknown column for the
 * reordered --dirty file. */
enum col {
    C_ROW_ID, C_ORDER_ID, C_ORDER_DATE, C_SHIP_DATE, C_SHIP_MODE, C_CUSTOMER_ID,
    C_CUSTOMER_NAME, C_SEGMENT, C_COUNTRY, C_CITY, C_STATE, C_POSTAL, C_REGION,
    C_PRODUCT_ID, C_CATEGORY, C_SUB_CATEGORY, C_PRODUCT_NAME, C_SALES, C_QUANTITY,
    C_DISCOUNT, C_PROFIT, C_EXTRA, NCOLS_ALL
};
#define NCOLS_STD C_EXTRA

static const char *const HEADER[NCOLS_ALL] = {
    "Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID",
    "Customer Name", "Segment", "Country", "City", "State", "Postal Code", "Region",
    "Product ID", "Category", "Sub-Category", "Product Name", "Sales", "Quantity",
    "Discount", "Profit", "Campaign",
};

/* The reordered file's column order: every superstore column once, and the
 * unknown one in the middle. */
static const uint8_t REORDERED[NCOLS_ALL] = {
    C_ORDER_ID, C_ORDER_DATE, C_ROW_ID, C_CUSTOMER_ID, C_CUSTOMER_NAME, C_SEGMENT,
    C_PRODUCT_ID, C_PRODUCT_NAME, C_CATEGORY, C_SUB_CATEGORY, C_EXTRA, C_QUANTITY,
    C_SALES, C_DISCOUNT, C_PROFIT, C_SHIP_DATE, C_SHIP_MODE, C_COUNTRY, C_REGION,
    C_STATE, C_CITY, C_POSTAL,
};

static const char *const REGION_NAME[GEN_REGIONS] = {"Central", "East", "South", "West"};

/* What --dirty does to each file's shape (clean files are all plain). */
enum shape {
    SHAPE_REORDERED = 1,   /* permuted columns plus "Campaign" */
    SHAPE_BOM_CRLF = 2,    /* UTF-8 BOM, \r\n line ends */
    SHAPE_CP1252 = 4,      /* Windows-1252 bytes instead of UTF-8 */
    SHAPE_DAY_FIRST = 8,   /* D/M/YYYY dates */
    SHAPE_UNTERMINATED = 16, /* the last record opens a quote it never closes */
};
static const unsigned DIRTY_SHAPE[GEN_REGIONS] = {
    SHAPE_REORDERED, SHAPE_BOM_CRLF, SHAPE_CP1252, SHAPE_DAY_FIRST | SHAPE_UNTERMINATED,
};

typedef struct sub_category {
    const char *prefix, *code, *category, *name;
    int nproducts;
    int32_t min_cents, max_cents; /* list price range */
    const char *const *brands, *const *items, *const *variants;
} sub_category;

#define L(...) (const char *const[]){__VA_ARGS__, NULL}

static const sub_category SUBS[] = {
    {"FUR", "BO", "Furniture", "Bookcases", 50, 5000, 120000,
     L("Bush", "Sauder", "O'Sullivan", "Atlantic Oak", "Riverside", "Hon", "Safco", "Ameriwood"),
     L("Somerset Collection Bookcase", "Heritage Pine Bookcase", "3-Shelf Cabinet Bookcase",
       "Library with Doors", "Barrister Bookcases", "Corner Bookcase", "5-Shelf Open Bookcase",
       "Ladder Bookcase"),
     L("Cherry Finish", "Mahogany", "Black", "Natural Oak", "White Finish", "Espresso",
       "Traditional Medium Cherry")},
    {"FUR", "CH", "Furniture", "Chairs", 90, 4000, 110000,
     L("Hon", "Global", "Office Star", "Novimex", "Harbour Creations", "SAFCO", "Lesro"),
     L("Deluxe Fabric Upholstered Stacking Chairs", "Task Chair with Arms", "Mesh Executive Chair",
       "Leather Executive Chair", "Ergonomic Mid-Back Chair", "Guest Chair", "Big & Tall Chair",
       "Drafting Stool"),
     L("Rounded Back", "Gray", "Black", "Burgundy", "Adjustable Arms", "Navy", "Chrome Base")},
    {"FUR", "FU", "Furniture", "Furnishings", 180, 200, 40000,
     L("Eldon", "Howard Miller", "Tenex", "Deflect-o", "Luxo", "Advantus", "D\xc3\xa9\x63o Home",
       "Seth Thomas", "DAX"),
     L("Expressions Wood and Plastic Desk Accessories", "13-3/4\" Diameter Wall Clock",
       "Chairmat for Hard Floors", "Photo Frame", "Desk Lamp", "Wood Frame", "Cube Clock",
       "Document Tray", "Coat Rack", "Executive Woodline Frame"),
     L("Cherry Wood", "Brushed Chrome", "Black", "8\" x 10\"", "Oak", "Silver")},
    {"FUR", "TA", "Furniture", "Tables", 60, 7000, 140000,
     L("Bretford", "Bevis", "Hon", "Barricks", "Chromcraft", "KI", "Lesro", "Iceberg"),
     L("CR4500 Series Slim Rectangular Table", "Round Conference Table", "Training Table",
       "Computer Table", "Folding Table", "Bow-Shaped Conference Table", "Utility Table",
       "Mobile Computer Desk"),
     L("48\" x 30\"", "Mahogany", "Gray Top", "Oak Laminate", "Black Legs", "Walnut")},
    {"OFF", "AP", "Office Supplies", "Appliances", 100, 500, 90000,
     L("Holmes", "Hoover", "Belkin", "Fellowes", "Kensington", "Honeywell", "Tripp Lite", "Acco"),
     L("Replacement Filter for HEPA Air Cleaner", "Upright Vacuum", "7-Outlet Surge Protector",
       "Space Heater", "Microwave Oven", "Mini Refrigerator", "Desktop Fan",
       "Caf\xc3\xa9 Espresso Maker"),
     L("Very Large Room", "Black", "6 ft Cord", "1500W", "White", "Stainless Steel")},
    {"OFF", "AR", "Office Supplies", "Art", 150, 100, 10000,
     L("Newell", "Sanford", "Boston", "Dixon", "Prang", "Staedtler", "BIC", "Faber-Castell",
       "M\xc3\xbcller"),
     L("318 Pencil Set", "Highlighters", "Colored Pencils", "Pencil Sharpener",
       "Dry Erase Markers", "Drawing Pencils", "Crayons", "Chalk", "Fine Tip Markers"),
     L("Assorted Colors", "12/Pack", "Black", "Fluorescent", "24/Box")},
    {"OFF", "BI", "Office Supplies", "Binders", 210, 100, 20000,
     L("Avery", "Acco", "Wilson Jones", "Cardinal", "Ibico", "GBC", "Fellowes", "Storex"),
     L("Recycled Flexi-View Covers for Binding Systems", "Durable Binders",
       "Heavy-Duty D-Ring Binder", "Round Ring Binders", "Presentation Binder", "Binding Combs",
       "3-Ring View Binder", "Clear Binding Covers", "Premium Poly Binder"),
     L("1\"", "2\" Capacity", "White", "Black", "Letter Size", "Assorted Colors", "Recycled")},
    {"OFF", "EN", "Office Supplies", "Envelopes", 50, 400, 7000,
     L("Tyvek", "Quality Park", "Globe-Weis", "Cameo", "Park Ridge", "Peel & Seel"),
     L("Security-Tint Envelopes", "Clasp Envelopes", "Interoffice Envelopes", "Catalog Envelopes",
       "Business Envelopes", "Window Envelopes"),
     L("#10", "9\" x 12\"", "White", "Kraft", "Recycled", "100/Box")},
    {"OFF", "FA", "Office Supplies", "Fasteners", 50, 100, 3000,
     L("Acco", "Advantus", "OIC", "Alliance", "Staples"),
     L("Paper Clips", "Push Pins", "Binder Clips", "Rubber Bands", "Brass Fasteners",
       "Thumb Tacks", "Standard Staples"),
     L("Jumbo", "Assorted Sizes", "100/Pack", "Colored")},
    {"OFF", "LA", "Office Supplies", "Labels", 70, 200, 5000,
     L("Avery", "Smead", "Dymo", "Universal", "Brother"),
     L("Self-Adhesive Address Labels for Typewriters", "Color Coded Labels", "File Folder Labels",
       "Shipping Labels", "Removable Labels", "Laser Printer Labels"),
     L("White", "Assorted Colors", "1\" x 2-5/8\"", "750/Pack")},
    {"OFF", "PA", "Office Supplies", "Paper", 270, 300, 10000,
     L("Xerox", "Hammermill", "Southworth", "Ampad", "Adams", "Eaton", "Tops", "Array"),
     L("Copy Paper", "Premium Laser Paper", "Message Book", "Phone Message Pads", "Legal Pads",
       "Cr\xc3\xa8me Linen Stationery", "Recycled Paper", "Easel Pads", "Computer Printout Paper"),
     L("8-1/2\" x 11\"", "Letter", "500 Sheets", "White", "Ivory", "Ruled")},
    {"OFF", "ST", "Office Supplies", "Storage", 160, 500, 120000,
     L("Eldon", "Fellowes", "Tennsco", "Sterilite", "Stur-D-Stor", "Safco", "Iris", "Smead"),
     L("Fold 'N Roll Cart System", "Shelving", "File Cart", "Storage Boxes", "Mobile File Cabinet",
       "Lockers", "Desk Drawer Organizer", "Archive Boxes", "Filing Cabinet"),
     L("Vertical 5-Shelf: 72\"H x 36\"W", "Black", "Letter/Legal", "Gray", "Putty", "4-Drawer")},
    {"OFF", "SU", "Office Supplies", "Supplies", 50, 100, 25000,
     L("Acme", "Fiskars", "Martin-Yale", "Stanley", "Elite", "Premier"),
     L("Scissors", "Trimmer", "Letter Opener", "Ruler", "Box Cutter", "Staple Remover",
       "Hole Punch"),
     L("Stainless Steel", "8\"", "Straight", "Bent Handle", "12\"")},
    {"TEC", "AC", "Technology", "Accessories", 150, 500, 80000,
     L("Logitech", "Plantronics", "Kingston", "SanDisk", "Memorex", "Belkin", "Imation", "Maxell",
       "Verbatim"),
     L("Wireless Mouse", "USB Flash Drive", "Keyboard", "Headset", "Memory Card", "Webcam",
       "Gaming Mouse", "Bluetooth Speaker", "Laptop Stand"),
     L("16GB", "Black", "Wireless", "USB 3.0", "64GB", "Silver")},
    {"TEC", "CO", "Technology", "Copiers", 15, 30000, 350000,
     L("Canon", "Hewlett-Packard", "Sharp", "Brother"),
     L("imageCLASS Copier", "Desktop Copier", "Wireless Color Copier", "Laser Copier",
       "Multifunction Copier"),
     L("Color", "Black/White", "Wireless", "Duplex")},
    {"TEC", "MA", "Technology", "Machines", 45, 2000, 300000,
     L("Cubify", "Lexmark", "Okidata", "Hewlett-Packard", "Epson", "Ativa", "Zebra", "StarTech"),
     L("CubeX 3D Printer", "Laser Printer", "Dot Matrix Printer", "Label Printer", "Shredder",
       "Calculator", "Fax Machine", "Inkjet Printer"),
     L("Double Head", "Color", "Monochrome", "Wireless", "Desktop")},
    {"TEC", "PH", "Technology", "Phones", 100, 500, 100000,
     L("Mitel", "Polycom", "Cisco", "Apple", "Samsung", "Motorola", "Nokia", "AT&T", "Panasonic"),
     L("5320 IP Phone VoIP phone", "Conference Phone", "Smart Phone", "Cordless Phone",
       "Headset Adapter", "Speakerphone", "Wireless Charger", "Phone Case"),
     L("Full Size", "Black", "Dual Handset", "Unlocked", "Refurbished")},
};
#define NSUBS (sizeof SUBS / sizeof SUBS[0])

/* First letters stay ASCII: customer IDs are built from initials. */
static const char *const FIRST_NAMES[] = {
    "Claire", "Darrin", "Sean", "Brosina", "Andrew", "Irene", "Harold", "Pete", "Alejandro",
    "Zachary", "Ken", "Sandra", "Emily", "Eric", "Tracy", "Matt", "Gene", "Steve", "Linda",
    "Ruben", "Erin", "Odella", "Patrick", "Lena", "Janet", "Ted", "Karen", "Paul", "Dave",
    "Maria", "Anna", "Tamara", "Adrian", "Nora", "Greg", "Cynthia", "Victor", "Laura", "Frank",
    "Helen", "Jos\xc3\xa9", "Zo\xc3\xab", "Ren\xc3\xa9\x65", "J\xc3\xbcrgen", "Fran\xc3\xa7oise",
    "S\xc3\xb8ren", "Chlo\xc3\xa9", "Ines", "Ivan", "Yolanda", "Bruce", "Olivia", "Quincy",
    "Xavier", "Wendy", "Umar", "Kelly", "Denise", "Hunter", "Vivek",
};
static const char *const LAST_NAMES[] = {
    "Gute", "Van Huff", "O'Donnell", "Hoffman", "Allen", "Maddox", "Pawlan", "Kriz", "Grove",
    "Ferguson", "Black", "Flanagan", "Phan", "Hoffmann", "Blumstein", "Abelman", "Hale",
    "Nguyen", "Cazamias", "Dartt", "Smith", "Nelson", "O'Brien", "Jenkins", "Molinari",
    "Butterfield", "Wong", "Lee", "Garcia", "Chapman", "Barton", "Rawlings", "Pryor", "Stevenson",
    "Ritter", "Quinn", "Kennedy", "Lopez", "Gonzalez", "Dunlap", "Guti\xc3\xa9rrez",
    "M\xc3\xbcller", "Lef\xc3\xa8vre", "H\xc3\xa5kansson", "Nu\xc3\xb1\x65z", "Bront\xc3\xab",
    "Young", "Ward", "Ortega", "Huang", "Yates", "Xu", "Underwood", "Iverson", "Eaton",
};
#define NCUSTOMERS 800

static const char *const SEGMENTS[] = {"Consumer", "Corporate", "Home Office"};
static const char *const SHIP_MODES[] = {"Standard Class", "Second Class", "First Class", "Same Day"};
static const char *const CAMPAIGNS[] = {"", "Spring Promo", "Back to School", "Holiday",
                                        "Clearance", "Loyalty"};

typedef struct city {
    const char *city, *state, *zip;
} city;

static const city CITIES_CENTRAL[] = {
    {"Fort Worth", "Texas", "76106"}, {"Houston", "Texas", "77095"}, {"Houston", "Texas", "77041"},
    {"Dallas", "Texas", "75217"}, {"San Antonio", "Texas", "78207"}, {"Austin", "Texas", "78745"},
    {"Chicago", "Illinois", "60623"}, {"Chicago", "Illinois", "60610"},
    {"Springfield", "Illinois", "62701"}, {"Naperville", "Illinois", "60540"},
    {"Detroit", "Michigan", "48205"}, {"Grand Rapids", "Michigan", "49505"},
    {"Madison", "Wisconsin", "53711"}, {"Milwaukee", "Wisconsin", "53209"},
    {"Minneapolis", "Minnesota", "55407"}, {"Saint Paul", "Minnesota", "55106"},
    {"Indianapolis", "Indiana", "46203"}, {"Oklahoma City", "Oklahoma", "73120"},
    {"Tulsa", "Oklahoma", "74133"}, {"Kansas City", "Missouri", "64118"},
    {"Saint Louis", "Missouri", "63116"}, {"Fremont", "Nebraska", "68025"},
    {"Omaha", "Nebraska", "68104"}, {"Des Moines", "Iowa", "50315"},
    {"Wichita", "Kansas", "67212"}, {"Sioux Falls", "South Dakota", "57103"},
    {"Fargo", "North Dakota", "58103"},
};
static const city CITIES_EAST[] = {
    {"Philadelphia", "Pennsylvania", "19140"}, {"Philadelphia", "Pennsylvania", "19120"},
    {"Pittsburgh", "Pennsylvania", "15205"}, {"New York City", "New York", "10035"},
    {"New York City", "New York", "10024"}, {"New York City", "New York", "10011"},
    {"Buffalo", "New York", "14215"}, {"Rochester", "New York", "14609"},
    {"Columbus", "Ohio", "43229"}, {"Cleveland", "Ohio", "44105"},
    {"Cincinnati", "Ohio", "45231"}, {"Toledo", "Ohio", "43615"},
    {"Boston", "Massachusetts", "02149"}, {"Lawrence", "Massachusetts", "01841"},
    {"Newark", "Delaware", "19711"}, {"Dover", "Delaware", "19901"},
    {"Newark", "New Jersey", "07102"}, {"Jersey City", "New Jersey", "07306"},
    {"Bridgeport", "Connecticut", "06604"}, {"Providence", "Rhode Island", "02908"},
    {"Baltimore", "Maryland", "21215"}, {"Manchester", "New Hampshire", "03103"},
    {"Burlington", "Vermont", "05408"}, {"Lewiston", "Maine", "04240"},
    {"Huntington", "West Virginia", "25701"}, {"Washington", "District of Columbia", "20016"},
};
static const city CITIES_SOUTH[] = {
    {"Henderson", "Kentucky", "42420"}, {"Louisville", "Kentucky", "40214"},
    {"Fort Lauderdale", "Florida", "33311"}, {"Miami", "Florida", "33142"},
    {"Jacksonville", "Florida", "32216"}, {"Tampa", "Florida", "33614"},
    {"Charlotte", "North Carolina", "28205"}, {"Raleigh", "North Carolina", "27604"},
    {"Richmond", "Virginia", "23223"}, {"Virginia Beach", "Virginia", "23464"},
    {"Atlanta", "Georgia", "30318"}, {"Columbus", "Georgia", "31907"},
    {"Memphis", "Tennessee", "38109"}, {"Nashville", "Tennessee", "37211"},
    {"Huntsville", "Alabama", "35810"}, {"Montgomery", "Alabama", "36116"},
    {"New Orleans", "Louisiana", "70119"}, {"Jackson", "Mississippi", "39212"},
    {"Little Rock", "Arkansas", "72209"}, {"Columbia", "South Carolina", "29203"},
};
static const city CITIES_WEST[] = {
    {"Los Angeles", "California", "90036"}, {"Los Angeles", "California", "90032"},
    {"Los Angeles", "California", "90049"}, {"San Francisco", "California", "94122"},
    {"San Francisco", "California", "94110"}, {"San Diego", "California", "92024"},
    {"Seattle", "Washington", "98105"}, {"Seattle", "Washington", "98103"},
    {"Spokane", "Washington", "99207"}, {"Denver", "Colorado", "80219"},
    {"Aurora", "Colorado", "80013"}, {"Ca\xc3\xb1on City", "Colorado", "81212"},
    {"Phoenix", "Arizona", "85023"}, {"Tucson", "Arizona", "85705"},
    {"Portland", "Oregon", "97206"}, {"Salt Lake City", "Utah", "84106"},
    {"Las Vegas", "Nevada", "89115"}, {"Albuquerque", "New Mexico", "87105"},
    {"Espa\xc3\xb1ola", "New Mexico", "87532"}, {"Boise", "Idaho", "83704"},
    {"Billings", "Montana", "59102"}, {"Cheyenne", "Wyoming", "82001"},
};
static const struct {
    const city *cities;
    uint32_t n;
} REGION_CITIES[GEN_REGIONS] = {
    {CITIES_CENTRAL, sizeof CITIES_CENTRAL / sizeof CITIES_CENTRAL[0]},
    {CITIES_EAST, sizeof CITIES_EAST / sizeof CITIES_EAST[0]},
    {CITIES_SOUTH, sizeof CITIES_SOUTH / sizeof CITIES_SOUTH[0]},
    {CITIES_WEST, sizeof CITIES_WEST / sizeof CITIES_WEST[0]},
};

/* Discounts as the superstore writes them, in percent, with weights. */
static const struct {
    const char *text;
    uint8_t pct, weight;
} DISCOUNTS[] = {
    {"0", 0, 48}, {"0.2", 20, 30}, {"0.1", 10, 4}, {"0.15", 15, 1}, {"0.3", 30, 3},
    {"0.4", 40, 3}, {"0.45", 45, 1}, {"0.5", 50, 2}, {"0.6", 60, 2}, {"0.7", 70, 4},
    {"0.8", 80, 2},
};
#define NDISCOUNTS (sizeof DISCOUNTS / sizeof DISCOUNTS[0])

/* ---- the pools, built once per gen_write from a fixed seed -------------- */

#define NAME_MAX_BYTES 200

typedef struct text {
    const char *p;
    uint32_t n;
} text;

typedef struct product {
    char id[16];
    char name[NAME_MAX_BYTES]; /* CSV-ready: quoted when it needs to be */
    uint8_t id_len, sub;
    bool nonascii;
    uint16_t name_len;
    int32_t price_cents;
    int16_t margin_bp; /* margin before discount, in basis points */
} product;

typedef struct customer {
    char id[9];
    char name[48];
    uint8_t name_len, segment;
    bool nonascii;
} customer;

typedef struct pools {
    product products[1800];
    int nproducts;
    customer customers[NCUSTOMERS];
    int nonascii_product, nonascii_customer; /* one of each, for forced rows */
} pools;

static bool has_high_byte(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* s as one CSV field, quoted by csv_write_field's rule (the one the reader
 * reads back), into dst[cap] through the scratch q. Returns SP_OK, or an
 * error when q cannot grow or the field does not fit its slot. */
static int put_csv_field(sp_buf *q, char *dst, size_t cap, const char *s, size_t n, size_t *len,
                         sp_error *err)
{
    sp_buf_reset(q);
    csv_write_field(q, s, n);
    if (q->broken)
        return sp_fail(err, SP_ERR_NOMEM, "gen: out of memory for the catalogue");
    if (q->len > cap)
        return sp_fail(err, SP_ERR_INTERNAL, "gen: name longer than %zu bytes: %s", cap, s);
    if (q->len)
        memcpy(dst, q->data, q->len);
    *len = q->len;
    return SP_OK;
}

static uint32_t list_len(const char *const *l)
{
    uint32_t n = 0;
    while (l[n])
        n++;
    return n;
}

static int build_pools(pools *pl, sp_error *err)
{
    sp_buf q;
    sp_buf_init(&q, 0);
    int rc = SP_OK;
    rng r;
    rng_seed(&r, 0x5A1E5F1FEull); /* the catalogue does not depend on --seed */
    pl->nproducts = 0;
    pl->nonascii_product = -1;
    for (size_t s = 0; s < NSUBS; s++) {
        const sub_category *sc = &SUBS[s];
        uint32_t nb = list_len(sc->brands), ni = list_len(sc->items), nv = list_len(sc->variants);
        uint32_t number = 10000000 + rng_below(&r, 200);
        for (int k = 0; k < sc->nproducts && rc == SP_OK; k++) {
            product *p = &pl->products[pl->nproducts];
            number += 1 + rng_below(&r, 9);
            p->id_len = (uint8_t)snprintf(p->id, sizeof p->id, "%s-%s-%08u", sc->prefix, sc->code,
                                          (unsigned)number);
            p->sub = (uint8_t)s;
            const char *brand = sc->brands[rng_below(&r, nb)];
            const char *item = sc->items[rng_below(&r, ni)];
            const char *variant = sc->variants[rng_below(&r, nv)];
            uint32_t form = rng_below(&r, 10);
            char raw[NAME_MAX_BYTES];
            if (form < 4)
                snprintf(raw, sizeof raw, "%s %s, %s", brand, item, variant);
            else if (form < 5)
                snprintf(raw, sizeof raw, "%s by %s", item, brand);
            else
                snprintf(raw, sizeof raw, "%s %s", brand, item);
            size_t n = strlen(raw), len = 0;
            rc = put_csv_field(&q, p->name, sizeof p->name, raw, n, &len, err);
            p->name_len = (uint16_t)len;
            p->nonascii = has_high_byte(raw, n);
            if (p->nonascii && pl->nonascii_product < 0)
                pl->nonascii_product = pl->nproducts;
            /* Log-like spread of list prices inside the sub-category range. */
            uint64_t u = rng_below(&r, 1000);
            p->price_cents = sc->min_cents +
                             (int32_t)((uint64_t)(sc->max_cents - sc->min_cents) * u * u / 1000000);
            p->margin_bp = (int16_t)(500 + rng_below(&r, 4500));
            pl->nproducts++;
        }
    }
    uint32_t nf = sizeof FIRST_NAMES / sizeof FIRST_NAMES[0];
    uint32_t nl = sizeof LAST_NAMES / sizeof LAST_NAMES[0];
    pl->nonascii_customer = -1;
    for (int k = 0; k < NCUSTOMERS && rc == SP_OK; k++) {
        customer *c = &pl->customers[k];
        const char *first = FIRST_NAMES[rng_below(&r, nf)];
        const char *last = LAST_NAMES[rng_below(&r, nl)];
        char raw[64];
        snprintf(raw, sizeof raw, "%s %s", first, last);
        size_t n = strlen(raw), len = 0;
        rc = put_csv_field(&q, c->name, sizeof c->name, raw, n, &len, err);
        c->name_len = (uint8_t)len;
        c->nonascii = has_high_byte(raw, n);
        if (c->nonascii && pl->nonascii_customer < 0)
            pl->nonascii_customer = k;
        snprintf(c->id, sizeof c->id, "%c%c-%05u", first[0], last[0],
                 (unsigned)(10000 + k * 13 + rng_below(&r, 13)));
        uint32_t seg = rng_below(&r, 100);
        c->segment = seg < 52 ? 0 : seg < 82 ? 1 : 2;
    }
    sp_buf_free(&q);
    return rc;
}

/* ---- dirty cases -------------------------------------------------------- */

/* Each kind is one way a row is spoiled (or stressed but kept), listed in the
 * order they are injected when there are too few rows for all of them. */
enum kind {
    K_CLEAN = 0,
    K_UNTERMINATED,    /* last record of a SHAPE_UNTERMINATED file */
    K_NONASCII,        /* customer and product with accents */
    K_OD_FEB30,
    K_SD_APR31,
    K_PID_EMPTY,
    K_QTY_ZERO,
    K_SALES_ZERO,
    K_THRESHOLD,       /* an outlier above 10000 */
    K_PROFIT_TEXT,
    K_MAL_FEW,
    K_MAL_MANY,        /* an unquoted comma in the product name */
    K_QUOTED_NEWLINE,
    K_FRAC5,           /* sales and profit with more than 4 fractional digits */
    K_SPACES,          /* spaces and a tab around values */
    K_OD_TEXT,
    K_OD_EMPTY,
    K_OD_AND_SD,       /* both dates bad: order_date wins */
    K_SD_TEXT,
    K_SD_EMPTY,
    K_PID_SPACES,
    K_PID_AND_QTY,     /* product id and quantity bad: product_id wins */
    K_QTY_NEG,
    K_QTY_FRAC,
    K_QTY_HUGE,        /* beyond int32 */
    K_QTY_AND_SALES,   /* quantity and sales bad: quantity wins */
    K_SALES_TEXT,
    K_SALES_NEG,
    K_SALES_TINY,      /* 0.00001 rounds to zero */
    K_SALES_EXP,       /* exponent notation is not a plain decimal */
    K_THRESHOLD_EDGE,  /* 10000.0001 */
    K_PROFIT_EMPTY,
    K_PROFIT_COMMA,    /* "12,5" */
    K_PROFIT_MARGIN,   /* profit / sales does not fit DECIMAL(18,2) */
    K_MAL_FEW_BADDATE, /* malformed and a bad date: malformed wins */
    K_ALL_EMPTY,       /* every field empty: order_date */
    K_AT_THRESHOLD,    /* exactly 10000.00: kept */
    K_ALT_DATES,       /* ISO, zero-padded and two-digit-year dates: kept */
    K_QUOTED_NUMBERS,  /* numbers in quotes: kept */
    K_NKINDS
};
#define KIND_MASK 0x3F
#define BLANK_BEFORE 0x80 /* a blank line precedes this row */

static const uint8_t KIND_REASON[K_NKINDS] = {
    [K_CLEAN] = RULES_KEPT,           [K_UNTERMINATED] = RULES_MALFORMED,
    [K_NONASCII] = RULES_KEPT,        [K_OD_FEB30] = RULES_ORDER_DATE,
    [K_SD_APR31] = RULES_SHIP_DATE,   [K_PID_EMPTY] = RULES_PRODUCT_ID,
    [K_QTY_ZERO] = RULES_QUANTITY,    [K_SALES_ZERO] = RULES_SALES,
    [K_THRESHOLD] = RULES_THRESHOLD,  [K_PROFIT_TEXT] = RULES_PROFIT,
    [K_MAL_FEW] = RULES_MALFORMED,    [K_MAL_MANY] = RULES_MALFORMED,
    [K_QUOTED_NEWLINE] = RULES_KEPT,  [K_FRAC5] = RULES_KEPT,
    [K_SPACES] = RULES_KEPT,          [K_OD_TEXT] = RULES_ORDER_DATE,
    [K_OD_EMPTY] = RULES_ORDER_DATE,  [K_OD_AND_SD] = RULES_ORDER_DATE,
    [K_SD_TEXT] = RULES_SHIP_DATE,    [K_SD_EMPTY] = RULES_SHIP_DATE,
    [K_PID_SPACES] = RULES_PRODUCT_ID, [K_PID_AND_QTY] = RULES_PRODUCT_ID,
    [K_QTY_NEG] = RULES_QUANTITY,     [K_QTY_FRAC] = RULES_QUANTITY,
    [K_QTY_HUGE] = RULES_QUANTITY,    [K_QTY_AND_SALES] = RULES_QUANTITY,
    [K_SALES_TEXT] = RULES_SALES,     [K_SALES_NEG] = RULES_SALES,
    [K_SALES_TINY] = RULES_SALES,     [K_SALES_EXP] = RULES_SALES,
    [K_THRESHOLD_EDGE] = RULES_THRESHOLD, [K_PROFIT_EMPTY] = RULES_PROFIT,
    [K_PROFIT_COMMA] = RULES_PROFIT,  [K_PROFIT_MARGIN] = RULES_PROFIT,
    [K_MAL_FEW_BADDATE] = RULES_MALFORMED, [K_ALL_EMPTY] = RULES_ORDER_DATE,
    [K_AT_THRESHOLD] = RULES_KEPT,    [K_ALT_DATES] = RULES_KEPT,
    [K_QUOTED_NUMBERS] = RULES_KEPT,
};

/* From 50 rows on every kind appears 1 + rows/2000 times (the unterminated
 * record once) and blank lines 1 + rows/1000 times, so the shapes are the
 * same for any such size. Below 50 rows, the first (rows-1)/2 kinds once. */
#define DIRTY_FULL_ROWS 50

/* ---- formatting --------------------------------------------------------- */

static inline char *put_u64(char *o, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = tmp[--n];
    return o;
}

static inline char *put_2d(char *o, unsigned v)
{
    *o++ = (char)('0' + v / 10);
    *o++ = (char)('0' + v % 10);
    return o;
}

/* v / 10^4 with trailing fractional zeros dropped down to min_frac digits. */
static char *put_dec4(char *o, int64_t v, int min_frac)
{
    if (v < 0) {
        *o++ = '-';
        v = -v;
    }
    o = put_u64(o, (uint64_t)v / 10000);
    unsigned frac = (unsigned)((uint64_t)v % 10000);
    char d[4] = {(char)('0' + frac / 1000), (char)('0' + frac / 100 % 10),
                 (char)('0' + frac / 10 % 10), (char)('0' + frac % 10)};
    int n = 4;
    while (n > min_frac && d[n - 1] == '0')
        n--;
    if (n) {
        *o++ = '.';
        memcpy(o, d, (size_t)n);
        o += n;
    }
    return o;
}

enum date_style {
    DS_MDY,        /* 6/12/2016 */
    DS_DMY,        /* 12/6/2016 */
    DS_ISO,        /* 2016-06-12 */
    DS_MDY_PAD,    /* 06/12/2016 */
    DS_DMY_DASH,   /* 12-06-2016 */
    DS_MDY_YY,     /* 6/12/16 */
    DS_DMY_YY,     /* 12/6/16 */
};

static char *put_date(char *o, int32_t days, enum date_style st)
{
    int64_t y;
    unsigned m, d;
    sp_civil_from_days(days, &y, &m, &d);
    unsigned yy = (unsigned)y;
    switch (st) {
    case DS_MDY:
    case DS_MDY_YY:
        o = put_u64(o, m);
        *o++ = '/';
        o = put_u64(o, d);
        *o++ = '/';
        break;
    case DS_DMY:
    case DS_DMY_YY:
        o = put_u64(o, d);
        *o++ = '/';
        o = put_u64(o, m);
        *o++ = '/';
        break;
    case DS_ISO:
        return o + sp_date_format(days, o); /* needs 16 bytes at o */
    case DS_MDY_PAD:
        o = put_2d(o, m);
        *o++ = '/';
        o = put_2d(o, d);
        *o++ = '/';
        break;
    case DS_DMY_DASH:
        o = put_2d(o, d);
        *o++ = '-';
        o = put_2d(o, m);
        *o++ = '-';
        break;
    }
    if (st == DS_MDY_YY || st == DS_DMY_YY)
        return put_2d(o, yy % 100);
    return put_u64(o, yy);
}

/* ---- one file ----------------------------------------------------------- */

#define OUT_CHUNK ((size_t)8 << 20)
#define ROW_MAX 4096 /* more than any row we write; flush before it could overflow */

typedef struct file_job {
    const gen_options *opt;
    const pools *pl;
    int region;
    unsigned shape;
    char path[4096], tmp[4096];
    gen_file_summary sum;
    sp_error err;
    int rc;
} file_job;

typedef struct row_state {
    rng r;
    int64_t row_id;
    /* the current order, shared by its consecutive rows */
    int lines_left;
    char order_id[24];
    uint32_t order_id_len;
    int32_t order_day, ship_day;
    int ship_mode, customer, city;
    uint32_t instance[K_NKINDS]; /* how many rows of each kind so far */
} row_state;

static void new_order(row_state *st, int region, bool first)
{
    rng *r = &st->r;
    uint32_t u = rng_below(r, 100);
    st->lines_left = u < 45 ? 1 : u < 70 ? 2 : u < 85 ? 3 : u < 93 ? 4 : 5 + (int)rng_below(r, 6);
    st->customer = (int)rng_below(r, NCUSTOMERS);
    st->city = (int)rng_below(r, REGION_CITIES[region].n);
    int32_t first_day = (int32_t)sp_days_from_civil(2014, 1, 1);
    int32_t span = (int32_t)sp_days_from_civil(2018, 1, 1) - first_day;
    st->order_day = first_day + (int32_t)rng_below(r, (uint32_t)span);
    if (first) {
        /* The first row carries an unambiguous date (day > 12), so every
         * file's day or month order can be told from it. */
        int64_t y;
        unsigned m, d;
        sp_civil_from_days(st->order_day, &y, &m, &d);
        if (d < 13)
            st->order_day += (int32_t)(13 - d);
    }
    uint32_t mode = rng_below(r, 100);
    int delay;
    if (mode < 60) {
        st->ship_mode = 0;
        delay = 4 + (int)rng_below(r, 4);
    } else if (mode < 79) {
        st->ship_mode = 1;
        delay = 2 + (int)rng_below(r, 4);
    } else if (mode < 95) {
        st->ship_mode = 2;
        delay = 1 + (int)rng_below(r, 3);
    } else {
        st->ship_mode = 3;
        delay = 0;
    }
    st->ship_day = st->order_day + delay;
    int64_t y;
    unsigned m, d;
    sp_civil_from_days(st->order_day, &y, &m, &d);
    char *o = st->order_id;
    memcpy(o, rng_below(r, 5) ? "CA-" : "US-", 3);
    o = put_u64(o + 3, (uint64_t)y);
    *o++ = '-';
    o = put_u64(o, 100000 + rng_below(r, 70000));
    st->order_id_len = (uint32_t)(o - st->order_id);
}

static inline text T(const char *s)
{
    return (text){s, (uint32_t)strlen(s)};
}

/* In-place UTF-8 → Windows-1252 for the only non-ASCII characters the pools
 * hold (U+00A0..U+00FF, lead bytes C2/C3). Returns the new length. */
static size_t to_cp1252(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c == 0xC2 || c == 0xC3) && i + 1 < n) {
            s[o++] = (char)(((unsigned char)s[i + 1] & 0x3F) | (c == 0xC3 ? 0xC0 : 0x80));
            i++;
        } else {
            s[o++] = (char)c;
        }
    }
    return o;
}

/* ---- one row, in phases ------------------------------------------------- *
 * The draws from the row's stream happen in a fixed order (the order, the
 * product, then the amounts, then only K_THRESHOLD's sales): changing that
 * order changes every byte after it, for every seed. */

/* What one row is being built from: its fields as views, most into the
 * row's own scratch, which the amounts and spoiled values are written to. */
typedef struct row_draft {
    text f[NCOLS_ALL];
    char scratch[1024];
    char *o;        /* the free part of scratch */
    int nemit;      /* how many columns the row has */
    bool nonascii;  /* holds characters to recode for a Windows-1252 file */
    bool dmy;       /* the file writes dates day first */
    const char *eol;
} row_draft;

/* The row's numbers: quantity, discount, sales = price * qty * (1 -
 * discount) and profit, both with 4 decimals. */
typedef struct row_amounts {
    int64_t qty, sales4, profit4;
    size_t discount;
    uint32_t campaign;
} row_amounts;

/* Field col becomes scratch[start, end); the scratch continues at end. */
static void set_field(row_draft *d, int col, char *start, char *end)
{
    d->f[col] = (text){start, (uint32_t)(end - start)};
    d->o = end;
}

static void draw_amounts(rng *r, const product *p, row_amounts *a)
{
    uint32_t qu = rng_below(r, 100);
    a->qty = qu < 10 ? 1 : qu < 34 ? 2 : qu < 58 ? 3 : qu < 70 ? 4 : qu < 82 ? 5
           : qu < 88 ? 6 : qu < 94 ? 7 : qu < 96 ? 8 : qu < 98 ? 9 : 10 + rng_below(r, 5);
    uint32_t dw = rng_below(r, 100), acc = 0;
    size_t di = 0;
    for (; di < NDISCOUNTS - 1; di++) {
        acc += DISCOUNTS[di].weight;
        if (dw < acc)
            break;
    }
    int64_t per_unit = (int64_t)p->price_cents * (100 - DISCOUNTS[di].pct); /* scale 4 */
    if (per_unit * a->qty > 100000000) /* keep Sales <= 10000 */
        a->qty = 100000000 / per_unit;
    a->sales4 = per_unit * a->qty;
    int32_t pct = DISCOUNTS[di].pct;
    int64_t margin_bp = p->margin_bp - pct * pct * 3 + ((int64_t)rng_below(r, 801) - 400);
    a->profit4 = a->sales4 * margin_bp / 10000;
    a->discount = di;
    a->campaign = rng_below(r, sizeof CAMPAIGNS / sizeof CAMPAIGNS[0]);
}

/* The clean row: every column as the catalogue, the order and the amounts
 * say. */
static void fill_clean_fields(row_draft *d, const row_state *st, const file_job *job,
                              const product *p, const customer *cu, const city *cy,
                              const row_amounts *a)
{
    text *f = d->f;
    enum date_style ds = d->dmy ? DS_DMY : DS_MDY;
    set_field(d, C_ROW_ID, d->o, put_u64(d->o, (uint64_t)st->row_id));
    f[C_ORDER_ID] = (text){st->order_id, st->order_id_len};
    set_field(d, C_ORDER_DATE, d->o, put_date(d->o, st->order_day, ds));
    set_field(d, C_SHIP_DATE, d->o, put_date(d->o, st->ship_day, ds));
    f[C_SHIP_MODE] = T(SHIP_MODES[st->ship_mode]);
    f[C_CUSTOMER_ID] = (text){cu->id, 8};
    f[C_CUSTOMER_NAME] = (text){cu->name, cu->name_len};
    f[C_SEGMENT] = T(SEGMENTS[cu->segment]);
    f[C_COUNTRY] = (text){"United States", 13};
    f[C_CITY] = T(cy->city);
    f[C_STATE] = T(cy->state);
    f[C_POSTAL] = (text){cy->zip, 5};
    f[C_REGION] = T(REGION_NAME[job->region]);
    f[C_PRODUCT_ID] = (text){p->id, p->id_len};
    f[C_CATEGORY] = T(SUBS[p->sub].category);
    f[C_SUB_CATEGORY] = T(SUBS[p->sub].name);
    f[C_PRODUCT_NAME] = (text){p->name, p->name_len};
    set_field(d, C_SALES, d->o, put_dec4(d->o, a->sales4, 2));
    set_field(d, C_QUANTITY, d->o, put_u64(d->o, (uint64_t)a->qty));
    f[C_DISCOUNT] = T(DISCOUNTS[a->discount].text);
    set_field(d, C_PROFIT, d->o, put_dec4(d->o, a->profit4, 0));
    f[C_EXTRA] = T(CAMPAIGNS[a->campaign]);
}

/* Spoiled dates; `inst` (this kind's count so far) varies the text. Returns
 * false when kind is not a date defect. */
static bool spoil_dates(row_draft *d, const row_state *st, int kind, uint32_t inst)
{
    /* the middle one is year-first and does not exist */
    static const char *const BAD_ORDER[] = {"not a date", "2016-02-30", "TBD"};
    text *f = d->f;
    switch (kind) {
    case K_OD_FEB30:
        f[C_ORDER_DATE] = T(d->dmy ? "30/2/2016" : "2/30/2016");
        return true;
    case K_SD_APR31:
        f[C_SHIP_DATE] = T(d->dmy ? "31/4/2017" : "4/31/2017");
        return true;
    case K_OD_TEXT:
        f[C_ORDER_DATE] = T(BAD_ORDER[inst % 3]);
        return true;
    case K_OD_EMPTY:
        f[C_ORDER_DATE] = T("");
        return true;
    case K_OD_AND_SD:
        f[C_ORDER_DATE] = T(d->dmy ? "29/2/2015" : "2/29/2015");
        f[C_SHIP_DATE] = T("not a date");
        return true;
    case K_SD_TEXT:
        f[C_SHIP_DATE] = T(inst % 2 ? "pending" : "N/A");
        return true;
    case K_SD_EMPTY:
        f[C_SHIP_DATE] = T("");
        return true;
    case K_ALT_DATES: {
        /* Valid dates in the file's other accepted spellings. */
        static const enum date_style MDY_ALT[] = {DS_ISO, DS_MDY_PAD, DS_MDY_YY};
        static const enum date_style DMY_ALT[] = {DS_ISO, DS_DMY_DASH, DS_DMY_YY};
        enum date_style alt = (d->dmy ? DMY_ALT : MDY_ALT)[inst % 3];
        set_field(d, C_ORDER_DATE, d->o, put_date(d->o, st->order_day, alt));
        set_field(d, C_SHIP_DATE, d->o, put_date(d->o, st->ship_day, alt));
        return true;
    }
    }
    return false;
}

/* Spoiled product ids and quantities. */
static bool spoil_ids_and_quantities(row_draft *d, int kind)
{
    text *f = d->f;
    switch (kind) {
    case K_PID_EMPTY:
        f[C_PRODUCT_ID] = T("");
        return true;
    case K_PID_SPACES:
        f[C_PRODUCT_ID] = T("   ");
        return true;
    case K_PID_AND_QTY:
        f[C_PRODUCT_ID] = T("");
        f[C_QUANTITY] = T("0");
        return true;
    case K_QTY_ZERO:
        f[C_QUANTITY] = T("0");
        return true;
    case K_QTY_NEG:
        f[C_QUANTITY] = T("-3");
        return true;
    case K_QTY_FRAC:
        f[C_QUANTITY] = T("2.5");
        return true;
    case K_QTY_HUGE:
        f[C_QUANTITY] = T("3000000000");
        return true;
    case K_QTY_AND_SALES:
        f[C_QUANTITY] = T("");
        f[C_SALES] = T("abc");
        return true;
    }
    return false;
}

/* Spoiled sales and profit. K_THRESHOLD is the only defect that draws from
 * the row's stream. */
static bool spoil_amounts(row_draft *d, rng *r, const row_amounts *a, int kind, uint32_t inst)
{
    text *f = d->f;
    switch (kind) {
    case K_SALES_ZERO:
        f[C_SALES] = T(inst % 2 ? "0" : "0.00");
        return true;
    case K_THRESHOLD:
        set_field(d, C_SALES, d->o,
                  put_dec4(d->o, (1000001 + (int64_t)rng_below(r, 5000000)) * 100, 2));
        return true;
    case K_PROFIT_TEXT:
        f[C_PROFIT] = T(inst % 2 ? "#VALUE!" : "n/a");
        return true;
    case K_FRAC5: {
        /* Digits below the 4th decimal that round toward zero, so the kept
         * values are the clean ones (sales stays <= the threshold). */
        char *start = d->o, *o = put_dec4(d->o, a->sales4, 4);
        memcpy(o, "31", 2);
        set_field(d, C_SALES, start, o + 2);
        start = d->o;
        o = put_dec4(d->o, a->profit4, 4);
        memcpy(o, "4999", 4);
        set_field(d, C_PROFIT, start, o + 4);
        return true;
    }
    case K_SALES_TEXT:
        f[C_SALES] = T(inst % 2 ? "twelve" : "N/A");
        return true;
    case K_SALES_NEG:
        f[C_SALES] = T("-42.50");
        return true;
    case K_SALES_TINY:
        f[C_SALES] = T("0.00001");
        return true;
    case K_SALES_EXP:
        f[C_SALES] = T("1.5e3");
        return true;
    case K_THRESHOLD_EDGE:
        f[C_SALES] = T("10000.0001");
        return true;
    case K_AT_THRESHOLD:
        f[C_SALES] = T("10000.00");
        f[C_QUANTITY] = T("4");
        return true;
    case K_PROFIT_EMPTY:
        f[C_PROFIT] = T("");
        return true;
    case K_PROFIT_COMMA:
        f[C_PROFIT] = T("\"12,5\"");
        return true;
    case K_PROFIT_MARGIN:
        /* sales 0.0001, profit 12345678901234.5: profit/sales ~ 1.2e17 */
        f[C_SALES] = T("0.0001");
        f[C_QUANTITY] = T("1");
        f[C_PROFIT] = T("12345678901234.5");
        return true;
    }
    return false;
}

/* The product name continues on a second line inside its quotes. */
static void quote_name_over_two_lines(row_draft *d, const product *p)
{
    const char *nm = p->name;
    uint32_t n = p->name_len;
    char *start = d->o, *o = d->o;
    if (nm[0] == '"') {
        memcpy(o, nm, n - 1);
        o += n - 1;
    } else {
        *o++ = '"';
        memcpy(o, nm, n);
        o += n;
    }
    memcpy(o, d->eol, strlen(d->eol));
    o += strlen(d->eol);
    memcpy(o, "(second line of the name)\"", 26);
    set_field(d, C_PRODUCT_NAME, start, o + 26);
}

/* Each of `which` wrapped in pre[i] and post[i] (blanks and tabs, or quotes). */
static void wrap_fields(row_draft *d, const int *which, size_t n, const char *const *pre,
                        const char *const *post)
{
    for (size_t i = 0; i < n; i++) {
        const text *t = &d->f[which[i]];
        char *start = d->o, *o = d->o;
        size_t a = strlen(pre[i]), b = strlen(post[i]);
        memcpy(o, pre[i], a);
        o += a;
        memcpy(o, t->p, t->n);
        o += t->n;
        memcpy(o, post[i], b);
        set_field(d, which[i], start, o + b);
    }
}

/* Spoiled records: too few or too many columns, quotes that run on or never
 * close, blanks around values, numbers in quotes. */
static bool spoil_record(row_draft *d, const product *p, int kind)
{
    text *f = d->f;
    switch (kind) {
    case K_UNTERMINATED:
        /* Opens a quote that nothing closes: the record runs to the end of
         * the file, and the file ends inside it. */
        f[C_PRODUCT_NAME] = T("\"Eldon Stackable Tray, Smoke");
        return true;
    case K_MAL_FEW:
        d->nemit -= 3;
        return true;
    case K_MAL_MANY:
        f[C_PRODUCT_NAME] = T("Fellowes Bankers Box, Letter/Legal");
        return true;
    case K_MAL_FEW_BADDATE:
        f[C_ORDER_DATE] = T("not a date");
        d->nemit -= 2;
        return true;
    case K_ALL_EMPTY:
        for (int c = 0; c < NCOLS_ALL; c++)
            f[c] = T("");
        d->nonascii = false;
        return true;
    case K_QUOTED_NEWLINE:
        quote_name_over_two_lines(d, p);
        return true;
    case K_SPACES: {
        static const int which[] = {C_ORDER_DATE, C_PRODUCT_ID, C_QUANTITY, C_SALES, C_PROFIT};
        static const char *const pre[] = {" ", "  ", " ", "\t", " "};
        static const char *const post[] = {"", " ", " ", " ", "\t"};
        wrap_fields(d, which, 5, pre, post);
        return true;
    }
    case K_QUOTED_NUMBERS: {
        static const int which[] = {C_SALES, C_QUANTITY, C_PROFIT, C_DISCOUNT};
        static const char *const quote[] = {"\"", "\"", "\"", "\""};
        wrap_fields(d, which, 4, quote, quote);
        return true;
    }
    }
    return false;
}

/* The row's fields joined with commas (in the file's column order), after a
 * blank line when planned, recoded for a Windows-1252 file. */
static size_t emit_row(const row_draft *d, const file_job *job, uint8_t kind_byte, char *out)
{
    const uint8_t *order = (job->shape & SHAPE_REORDERED) ? REORDERED : NULL;
    size_t eol_len = strlen(d->eol);
    char *w = out;
    if (kind_byte & BLANK_BEFORE) {
        memcpy(w, d->eol, eol_len);
        w += eol_len;
    }
    char *row_start = w;
    for (int i = 0; i < d->nemit; i++) {
        const text *t = &d->f[order ? order[i] : i];
        if (i)
            *w++ = ',';
        memcpy(w, t->p, t->n);
        w += t->n;
    }
    memcpy(w, d->eol, eol_len);
    w += eol_len;
    if (d->nonascii && (job->shape & SHAPE_CP1252))
        w = row_start + to_cp1252(row_start, (size_t)(w - row_start));
    return (size_t)(w - out);
}

/* Build one row into out (at most ROW_MAX bytes); returns bytes written. */
static size_t make_row(row_state *st, const file_job *job, int64_t index, uint8_t kind_byte,
                       char *out)
{
    const pools *pl = job->pl;
    rng *r = &st->r;
    int kind = kind_byte & KIND_MASK;

    if (st->lines_left == 0)
        new_order(st, job->region, index == 0);
    st->lines_left--;

    int pi = (int)rng_below(r, (uint32_t)pl->nproducts);
    int ci = st->customer;
    /* A Windows-1252 file's first row shows its encoding. */
    if (kind == K_NONASCII || (index == 0 && (job->shape & SHAPE_CP1252))) {
        pi = pl->nonascii_product;
        ci = pl->nonascii_customer;
    }
    const product *p = &pl->products[pi];
    const customer *cu = &pl->customers[ci];
    const city *cy = &REGION_CITIES[job->region].cities[st->city];

    row_amounts a;
    draw_amounts(r, p, &a);
    row_draft d;
    d.o = d.scratch;
    d.dmy = job->shape & SHAPE_DAY_FIRST;
    d.eol = (job->shape & SHAPE_BOM_CRLF) ? "\r\n" : "\n";
    st->row_id++;
    fill_clean_fields(&d, st, job, p, cu, cy, &a);
    d.nemit = (job->shape & SHAPE_REORDERED) ? NCOLS_ALL : NCOLS_STD;
    d.nonascii = p->nonascii || cu->nonascii || has_high_byte(cy->city, d.f[C_CITY].n);

    uint32_t inst = kind ? st->instance[kind]++ : 0;
    if (kind != K_CLEAN && kind != K_NONASCII && !spoil_dates(&d, st, kind, inst) &&
        !spoil_ids_and_quantities(&d, kind) && !spoil_amounts(&d, r, &a, kind, inst))
        spoil_record(&d, p, kind);
    return emit_row(&d, job, kind_byte, out);
}

/* ---- planning the dirty rows -------------------------------------------- */

#define GEN_MAX_ROWS ((int64_t)200000000) /* the dirty plan holds one byte per row */

static void place(rng *r, uint8_t *kinds, int64_t hi, uint8_t kind, int64_t *expect)
{
    /* a free slot in [1, hi): row 0 stays clean, it carries the date evidence */
    for (;;) {
        int64_t at = 1 + (int64_t)rng_below(r, (uint32_t)(hi - 1));
        if ((kinds[at] & KIND_MASK) == K_CLEAN) {
            kinds[at] = (uint8_t)(kinds[at] | kind);
            expect[KIND_REASON[kind]]++;
            return;
        }
    }
}

/* Choose which rows are spoiled, and how; fill expect[] for them. */
static void plan_dirty(const file_job *job, uint8_t *kinds, int64_t *expect)
{
    int64_t rows = job->opt->rows;
    rng r;
    rng_seed(&r, job->opt->seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(job->region + 1)));
    int64_t hi = rows; /* slots [1, hi) are free for placement */
    if ((job->shape & SHAPE_UNTERMINATED) && rows >= 2) {
        kinds[rows - 1] = K_UNTERMINATED;
        expect[RULES_MALFORMED]++;
        hi = rows - 1;
    }
    if (rows >= DIRTY_FULL_ROWS) {
        int64_t each = 1 + rows / 2000;
        for (int k = K_UNTERMINATED + 1; k < K_NKINDS; k++)
            for (int64_t i = 0; i < each; i++)
                place(&r, kinds, hi, (uint8_t)k, expect);
    } else {
        int64_t budget = (rows - 1) / 2 - (hi < rows ? 1 : 0);
        for (int k = K_UNTERMINATED + 1; k < K_NKINDS && budget > 0; k++, budget--)
            place(&r, kinds, hi, (uint8_t)k, expect);
    }
    int64_t blanks = rows >= DIRTY_FULL_ROWS ? 1 + rows / 1000 : rows >= 2 ? 1 : 0;
    for (int64_t i = 0; i < blanks; i++) {
        int64_t at;
        do
            at = 1 + (int64_t)rng_below(&r, (uint32_t)(rows - 1));
        while (kinds[at] & BLANK_BEFORE);
        kinds[at] |= BLANK_BEFORE;
    }
}

/* ---- writing ------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n, const char *path, sp_error *err)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return sp_fail(err, SP_ERR_IO, "%s: write: %s", path, strerror(errno));
        }
        p += w;
        n -= (size_t)w;
    }
    return SP_OK;
}

static int write_rows(file_job *job, int fd, char *buf, const uint8_t *kinds)
{
    const gen_options *opt = job->opt;
    bool crlf = job->shape & SHAPE_BOM_CRLF;
    size_t len = 0;
    if (crlf) {
        memcpy(buf, "\xEF\xBB\xBF", 3);
        len = 3;
    }
    int ncols = (job->shape & SHAPE_REORDERED) ? NCOLS_ALL : NCOLS_STD;
    for (int i = 0; i < ncols; i++) {
        const char *h = HEADER[(job->shape & SHAPE_REORDERED) ? REORDERED[i] : i];
        if (i)
            buf[len++] = ',';
        memcpy(buf + len, h, strlen(h));
        len += strlen(h);
    }
    memcpy(buf + len, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
    len += crlf ? 2 : 1;

    row_state st;
    memset(&st, 0, sizeof st);
    rng_seed(&st.r, opt->seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(job->region + 1)));
    st.row_id = (int64_t)job->region * opt->rows;
    for (int64_t i = 0; i < opt->rows; i++) {
        len += make_row(&st, job, i, kinds ? kinds[i] : 0, buf + len);
        if (len >= OUT_CHUNK) {
            SP_TRY(write_all(fd, buf, len, job->tmp, &job->err));
            job->sum.bytes += (int64_t)len;
            len = 0;
        }
    }
    SP_TRY(write_all(fd, buf, len, job->tmp, &job->err));
    job->sum.bytes += (int64_t)len;
    return SP_OK;
}

static int write_file(file_job *job)
{
    const gen_options *opt = job->opt;
    gen_file_summary *sum = &job->sum;
    snprintf(sum->name, sizeof sum->name, "%s_orders.csv", REGION_NAME[job->region]);
    sum->rows = opt->rows;
    int pn = snprintf(job->path, sizeof job->path, "%s/%s", opt->out_dir, sum->name);
    int tn = snprintf(job->tmp, sizeof job->tmp, "%s/.%s.tmp-%ld", opt->out_dir, sum->name,
                      (long)getpid());
    if (pn < 0 || tn < 0 || (size_t)tn >= sizeof job->tmp)
        return sp_fail(&job->err, SP_ERR_USAGE, "gen: output directory name too long: %s",
                       opt->out_dir);

    uint8_t *kinds = NULL;
    if (opt->dirty && opt->rows > 0) {
        kinds = calloc((size_t)opt->rows, 1);
        if (!kinds)
            return sp_fail(&job->err, SP_ERR_NOMEM, "%s: no memory for %lld rows", job->path,
                           (long long)opt->rows);
        plan_dirty(job, kinds, sum->expect);
    }
    int64_t rejected = 0;
    for (int k = RULES_KEPT + 1; k < RULES_NREASONS; k++)
        rejected += sum->expect[k];
    sum->expect[RULES_KEPT] = opt->rows - rejected;

    char *buf = malloc(OUT_CHUNK + ROW_MAX);
    if (!buf) {
        free(kinds);
        return sp_fail(&job->err, SP_ERR_NOMEM, "%s: no memory for the output buffer", job->path);
    }
    int fd = open(job->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        free(buf);
        free(kinds);
        return sp_fail(&job->err, SP_ERR_IO, "%s: cannot create: %s", job->tmp, strerror(errno));
    }
    int rc = write_rows(job, fd, buf, kinds);
    free(buf);
    free(kinds);
    if (rc == SP_OK && fsync(fd) != 0)
        rc = sp_fail(&job->err, SP_ERR_IO, "%s: fsync: %s", job->tmp, strerror(errno));
    if (close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(&job->err, SP_ERR_IO, "%s: close: %s", job->tmp, strerror(errno));
    if (rc == SP_OK && rename(job->tmp, job->path) != 0)
        rc = sp_fail(&job->err, SP_ERR_IO, "%s: rename from %s: %s", job->path, job->tmp,
                     strerror(errno));
    if (rc != SP_OK)
        unlink(job->tmp);
    return rc;
}

/* The files still to write, shared by the THREADS writers. */
typedef struct file_queue {
    file_job *jobs;
    atomic_int next;
} file_queue;

static void *file_thread(void *arg)
{
    file_queue *q = arg;
    for (int i; (i = atomic_fetch_add(&q->next, 1)) < GEN_REGIONS;)
        q->jobs[i].rc = write_file(&q->jobs[i]);
    return NULL;
}

int gen_write(const gen_options *opt, gen_summary *summary, sp_error *err)
{
    if (!opt || !opt->out_dir || !opt->out_dir[0])
        return sp_fail(err, SP_ERR_USAGE, "gen: no output directory");
    if (opt->rows < 0 || opt->rows > GEN_MAX_ROWS)
        return sp_fail(err, SP_ERR_USAGE, "gen: rows must be between 0 and %lld, not %lld",
                       (long long)GEN_MAX_ROWS, (long long)opt->rows);
    if (sp_mkdirs(opt->out_dir, strlen(opt->out_dir), err) != SP_OK)
        return sp_error_prefix(err, "gen");

    pools *pl = malloc(sizeof *pl);
    file_job *jobs = calloc(GEN_REGIONS, sizeof *jobs);
    if (!pl || !jobs) {
        free(pl);
        free(jobs);
        return sp_fail(err, SP_ERR_NOMEM, "gen: no memory for the pools");
    }
    if (build_pools(pl, err) != SP_OK) {
        free(pl);
        free(jobs);
        return err->code;
    }

    /* Up to one thread per file (THREADS at most): each file has its own
     * random stream, so the bytes do not depend on scheduling. */
    for (int i = 0; i < GEN_REGIONS; i++)
        jobs[i] = (file_job){.opt = opt, .pl = pl, .region = i,
                             .shape = opt->dirty ? DIRTY_SHAPE[i] : 0};
    file_queue q = {jobs, 0};
    int nthreads = opt->threads > 0 && opt->threads < GEN_REGIONS ? opt->threads : GEN_REGIONS;
    pthread_t tid[GEN_REGIONS];
    int started = 0;
    for (int t = 1; t < nthreads; t++)
        if (pthread_create(&tid[started], NULL, file_thread, &q) == 0)
            started++; /* fewer threads is slower, not wrong */
    file_thread(&q); /* the calling thread writes too */
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    int rc = SP_OK;
    for (int i = 0; i < GEN_REGIONS; i++) {
        if (jobs[i].rc != SP_OK && rc == SP_OK) {
            rc = jobs[i].rc;
            *err = jobs[i].err;
        }
    }
    if (summary) {
        memset(summary, 0, sizeof *summary);
        for (int i = 0; i < GEN_REGIONS; i++)
            summary->files[i] = jobs[i].sum;
        summary->nfiles = GEN_REGIONS;
    }
    free(jobs);
    free(pl);
    return rc;
}
