"""Seeded, realistic sample exports for whiteglove.

Simulates four Spanish systems (CRM, billing, marketing, support) that each hold a
partial, dirty view of the same customers, plus ``truth.csv`` linking every exported
row to the person behind it::

    python -m whiteglove.sample_data --people 3000 --seed 7 --out data
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.random import PCG64, Generator

SOURCES = ("crm", "billing", "marketing", "support")
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

# --------------------------------------------------------------------------- reference data
# Weights are rough INE frequencies (thousands); only their ratios matter.
_MALE = (
    "Antonio 650|José 600|Manuel 580|Francisco 480|David 380|Juan 370|Javier 350|"
    "José Antonio 330|Daniel 320|José Luis 310|Francisco Javier 300|Carlos 300|Jesús 280|"
    "Alejandro 280|Miguel 250|José Manuel 240|Rafael 230|Pablo 220|Miguel Ángel 210|"
    "Pedro 210|Ángel 200|Sergio 200|José María 190|Fernando 190|Jorge 180|Luis 180|"
    "Alberto 170|Juan Carlos 160|Álvaro 160|Adrián 150|Juan José 150|Diego 150|Raúl 140|"
    "Iván 140|Juan Antonio 130|Rubén 130|Enrique 130|Óscar 120|Ramón 120|Andrés 110|"
    "Vicente 110|Joaquín 100|Santiago 100|Víctor 100|Eduardo 90|Mario 90|Roberto 90|"
    "Jaime 85|Francisco José 80|Marcos 80|Ignacio 80|Alfonso 75|Jordi 75|Hugo 70|"
    "Ricardo 70|Salvador 70|Guillermo 65|Gabriel 60|Emilio 60|Mariano 55|Julián 55|"
    "Gonzalo 55|Marc 55|Tomás 50|Julio 50|Agustín 50|Nicolás 45|Martín 45|Lucas 40|"
    "Cristian 40|Samuel 35|Héctor 35|Aitor 30|Xavier 30|Pau 30|Félix 30|Íñigo 25|"
    "Sebastián 25|Gregorio 25|Lorenzo 25|Domingo 25|Felipe 25|Borja 25|Unai 20|Asier 20|"
    "Esteban 20|Benito 15"
)
_FEMALE = (
    "María del Carmen 650|María 600|Carmen 600|Ana María 300|Josefa 300|María Pilar 270|"
    "Isabel 260|Laura 260|María Dolores 260|María Teresa 250|Ana 250|Cristina 230|Marta 220|"
    "María Ángeles 220|Lucía 220|Francisca 210|María Isabel 210|María José 200|Antonia 200|"
    "Dolores 200|Sara 180|Paula 180|Elena 180|María Luisa 170|Raquel 160|Rosa María 160|"
    "Manuela 160|María Jesús 150|Pilar 150|Concepción 150|Mercedes 140|Julia 140|"
    "Beatriz 130|Nuria 130|Silvia 130|Alba 120|Irene 120|Rosario 120|Juana 120|Teresa 115|"
    "Encarnación 110|Montserrat 110|Patricia 110|Andrea 110|Rocío 105|Mónica 100|Rosa 100|"
    "Alicia 95|Sonia 90|Sandra 90|Ángela 90|Marina 85|Susana 85|Natalia 85|Yolanda 80|"
    "Margarita 80|Inmaculada 75|Claudia 75|Eva María 70|Sofía 70|Esther 70|Noelia 65|"
    "Verónica 65|Carla 65|Ángeles 60|Nerea 60|Lorena 55|Guadalupe 45|Amparo 40|Inés 40|"
    "Miriam 40|Victoria 40|Daniela 40|Begoña 35|Ainhoa 35|Consuelo 35|Gloria 35|Núria 30|"
    "Aitana 30|Soledad 30|Almudena 25|Maite 20|Itziar 15"
)
_SURNAMES = (
    "García 1450|Rodríguez 930|González 920|Fernández 900|López 870|Martínez 830|"
    "Sánchez 810|Pérez 760|Gómez 490|Martín 490|Jiménez 390|Hernández 370|Ruiz 370|"
    "Díaz 350|Moreno 340|Muñoz 300|Álvarez 300|Romero 270|Gutiérrez 230|Alonso 230|"
    "Navarro 220|Torres 220|Domínguez 220|Ramos 200|Vázquez 200|Ramírez 195|Gil 195|"
    "Serrano 190|Morales 180|Molina 180|Blanco 175|Suárez 175|Castro 170|Ortega 170|"
    "Delgado 165|Ortiz 165|Marín 165|Rubio 160|Núñez 150|Medina 150|Sanz 150|Castillo 145|"
    "Iglesias 145|Cortés 145|Garrido 145|Santos 140|Guerrero 140|Lozano 140|Cano 135|"
    "Cruz 135|Méndez 135|Flores 135|Prieto 133|Herrera 130|Peña 130|León 130|Márquez 125|"
    "Cabrera 125|Gallego 125|Calvo 125|Vidal 120|Campos 120|Reyes 120|Vega 118|Fuentes 118|"
    "Carrasco 118|Díez 115|Aguilar 115|Caballero 115|Nieto 113|Santana 110|Vargas 110|"
    "Pascual 110|Giménez 108|Herrero 108|Hidalgo 108|Montero 108|Lorenzo 107|Santiago 105|"
    "Benítez 105|Durán 103|Ibáñez 103|Arias 102|Mora 102|Ferrer 102|Carmona 100|"
    "Vicente 100|Rojas 98|Soto 98|Crespo 98|Román 96|Pastor 96|Velasco 96|Parra 96|"
    "Sáez 94|Moya 94|Bravo 94|Rivera 93|Gallardo 92|Soler 92|Pardo 85|Esteban 85|"
    "Franco 80|Mendoza 70|Rivas 70|Otero 50|Varela 45|Rey 45|Aguirre 50|Sierra 50|"
    "Mateo 50|Puig 50|Casas 50|Roca 50|Serra 50|Conde 45|Mas 40|Beltrán 40|Valero 40|"
    "Vera 40|Miranda 40|Camacho 40|Font 35|Bermúdez 35|Ballesteros 35|Manzano 35|"
    "Robles 35|Espinosa 35|Villanueva 35|Echeverría 30|Pujol 30|Bosch 30|Figueroa 30|"
    "Castaño 30|Quintana 30|Salazar 30|Acosta 30|Luque 30|Heredia 30|Aranda 30|Sosa 30|"
    "Vilà 25|Ávila 25|Toledo 25|Escobar 25|Trujillo 25|Ordóñez 25|Salinas 25|Pozo 25|"
    "Etxeberria 20|Urrutia 20|Muñiz 20|Goikoetxea 10|Zubizarreta 8"
)

NICKNAMES: dict[str, tuple[str, ...]] = {
    "Francisco": ("Paco", "Curro", "Fran"),
    "José": ("Pepe",),
    "Manuel": ("Manolo",),
    "Dolores": ("Lola", "Loli"),
    "Concepción": ("Concha", "Conchi"),
    "Ignacio": ("Nacho", "Iñaki"),
    "Jesús": ("Chus",),
    "Rosario": ("Charo",),
    "Mercedes": ("Merche",),
    "Enrique": ("Quique",),
    "Antonio": ("Toño", "Toni"),
    "Guadalupe": ("Lupe",),
    "Alejandro": ("Álex", "Alex"),
    "José Luis": ("Pepelu",),
    "María del Carmen": ("Maricarmen", "Mari Carmen"),
    "Roberto": ("Rober",),
    "Santiago": ("Santi",),
    "Francisca": ("Paqui",),
    "Josefa": ("Pepa",),
    "Beatriz": ("Bea",),
    "Cristina": ("Cris",),
    "Isabel": ("Isa",),
    "Teresa": ("Tere",),
    "Fernando": ("Fer",),
    "Encarnación": ("Encarna",),
    "Inmaculada": ("Inma",),
    "Montserrat": ("Montse",),
    "Consuelo": ("Chelo",),
    "Francisco Javier": ("Javier", "Fran"),
    "Javier": ("Javi",),
    "Daniel": ("Dani",),
    "Guillermo": ("Guille",),
    "Eduardo": ("Edu",),
    "Rafael": ("Rafa",),
    "Joaquín": ("Quino",),
    "Agustín": ("Tino",),
    "Salvador": ("Salva",),
    "Gregorio": ("Goyo",),
    "María José": ("Marijose",),
    "María Jesús": ("Chus",),
    "María Dolores": ("Loli", "Lola"),
    "María Ángeles": ("Marián",),
    "María Isabel": ("Maribel",),
    "María Luisa": ("Marisa",),
    "Pilar": ("Pili",),
    "María Pilar": ("Pili",),
    "Nicolás": ("Nico",),
    "Patricia": ("Patri",),
    "Verónica": ("Vero",),
    "Natalia": ("Nati",),
    "Sebastián": ("Sebas",),
    "Alberto": ("Berto",),
    "Miguel Ángel": ("Migue",),
}

# province code -> (name, aliases other systems use)
PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "01": ("Álava", ("Araba", "Alava")),
    "02": ("Albacete", ()),
    "03": ("Alicante", ("Alacant",)),
    "04": ("Almería", ()),
    "05": ("Ávila", ()),
    "06": ("Badajoz", ()),
    "07": ("Illes Balears", ("Baleares", "Islas Baleares")),
    "08": ("Barcelona", ()),
    "09": ("Burgos", ()),
    "10": ("Cáceres", ()),
    "11": ("Cádiz", ()),
    "12": ("Castellón", ("Castelló",)),
    "13": ("Ciudad Real", ()),
    "14": ("Córdoba", ()),
    "15": ("A Coruña", ("La Coruña",)),
    "16": ("Cuenca", ()),
    "17": ("Girona", ("Gerona",)),
    "18": ("Granada", ()),
    "19": ("Guadalajara", ()),
    "20": ("Gipuzkoa", ("Guipúzcoa",)),
    "21": ("Huelva", ()),
    "22": ("Huesca", ()),
    "23": ("Jaén", ()),
    "24": ("León", ()),
    "25": ("Lleida", ("Lérida",)),
    "26": ("La Rioja", ("Rioja",)),
    "27": ("Lugo", ()),
    "28": ("Madrid", ("Comunidad de Madrid",)),
    "29": ("Málaga", ()),
    "30": ("Murcia", ()),
    "31": ("Navarra", ("Nafarroa",)),
    "32": ("Ourense", ("Orense",)),
    "33": ("Asturias", ()),
    "34": ("Palencia", ()),
    "35": ("Las Palmas", ()),
    "36": ("Pontevedra", ()),
    "37": ("Salamanca", ()),
    "38": ("Santa Cruz de Tenerife", ("Tenerife",)),
    "39": ("Cantabria", ()),
    "40": ("Segovia", ()),
    "41": ("Sevilla", ()),
    "42": ("Soria", ()),
    "43": ("Tarragona", ()),
    "44": ("Teruel", ()),
    "45": ("Toledo", ()),
    "46": ("Valencia", ("València",)),
    "47": ("Valladolid", ()),
    "48": ("Bizkaia", ("Vizcaya",)),
    "49": ("Zamora", ()),
    "50": ("Zaragoza", ()),
}

# (city, province code, first postcode suffix, last postcode suffix, weight, aliases)
CITIES: tuple[tuple[str, str, int, int, int, tuple[str, ...]], ...] = (
    ("Madrid", "28", 1, 55, 3300, ()),
    ("Barcelona", "08", 1, 42, 1650, ()),
    ("Valencia", "46", 1, 26, 800, ("València",)),
    ("Sevilla", "41", 1, 20, 685, ()),
    ("Zaragoza", "50", 1, 21, 675, ()),
    ("Málaga", "29", 1, 18, 580, ()),
    ("Murcia", "30", 1, 12, 460, ()),
    ("Palma", "07", 1, 15, 420, ("Palma de Mallorca",)),
    ("Las Palmas de Gran Canaria", "35", 1, 19, 380, ("Las Palmas",)),
    ("Bilbao", "48", 1, 15, 345, ("Bilbo",)),
    ("Alicante", "03", 1, 16, 340, ("Alacant",)),
    ("Córdoba", "14", 1, 14, 320, ()),
    ("Valladolid", "47", 1, 16, 300, ()),
    ("Vigo", "36", 201, 216, 295, ()),
    ("Gijón", "33", 201, 213, 270, ("Xixón",)),
    ("L'Hospitalet de Llobregat", "08", 901, 908, 265, ("Hospitalet de Llobregat",)),
    ("Vitoria-Gasteiz", "01", 1, 15, 255, ("Vitoria",)),
    ("A Coruña", "15", 1, 11, 245, ("La Coruña",)),
    ("Elche", "03", 201, 208, 235, ("Elx",)),
    ("Granada", "18", 1, 15, 230, ()),
    ("Terrassa", "08", 221, 228, 225, ("Tarrasa",)),
    ("Badalona", "08", 911, 918, 220, ()),
    ("Oviedo", "33", 1, 13, 220, ()),
    ("Cartagena", "30", 201, 205, 215, ()),
    ("Sabadell", "08", 201, 208, 215, ()),
    ("Jerez de la Frontera", "11", 401, 408, 212, ("Jerez",)),
    ("Móstoles", "28", 931, 938, 210, ()),
    ("Santa Cruz de Tenerife", "38", 1, 10, 208, ()),
    ("Pamplona", "31", 1, 16, 203, ("Iruña",)),
    ("Almería", "04", 1, 9, 200, ()),
    ("Alcalá de Henares", "28", 801, 807, 195, ()),
    ("Fuenlabrada", "28", 940, 947, 193, ()),
    ("Leganés", "28", 911, 919, 190, ()),
    ("San Sebastián", "20", 1, 18, 187, ("Donostia",)),
    ("Getafe", "28", 901, 909, 185, ()),
    ("Burgos", "09", 1, 7, 175, ()),
    ("Albacete", "02", 1, 8, 173, ()),
    ("Santander", "39", 1, 12, 172, ()),
    ("Castellón de la Plana", "12", 1, 6, 172, ("Castelló",)),
    ("Alcorcón", "28", 921, 925, 170, ()),
    ("Logroño", "26", 1, 9, 150, ()),
    ("Badajoz", "06", 1, 11, 150, ()),
    ("Salamanca", "37", 1, 8, 143, ()),
    ("Huelva", "21", 1, 7, 143, ()),
    ("Marbella", "29", 600, 604, 147, ()),
    ("Lleida", "25", 1, 8, 140, ("Lérida",)),
    ("Tarragona", "43", 1, 8, 135, ()),
    ("Dos Hermanas", "41", 700, 704, 135, ()),
    ("Torrejón de Ardoz", "28", 850, 850, 132, ()),
    ("León", "24", 1, 10, 122, ()),
    ("Algeciras", "11", 201, 207, 120, ()),
    ("Cádiz", "11", 1, 12, 113, ()),
    ("Jaén", "23", 1, 9, 111, ()),
    ("Reus", "43", 201, 206, 105, ()),
    ("Ourense", "32", 1, 5, 105, ("Orense",)),
    ("Girona", "17", 1, 7, 103, ("Gerona",)),
    ("Lugo", "27", 1, 4, 98, ()),
    ("Cáceres", "10", 1, 5, 96, ()),
    ("Guadalajara", "19", 1, 5, 87, ()),
    ("Torrevieja", "03", 181, 186, 85, ()),
    ("Toledo", "45", 1, 8, 85, ()),
    ("Palencia", "34", 1, 5, 78, ()),
    ("Getxo", "48", 991, 993, 78, ()),
    ("Ciudad Real", "13", 1, 5, 75, ()),
    ("Benidorm", "03", 501, 503, 70, ()),
    ("Ponferrada", "24", 400, 404, 64, ()),
    ("Mérida", "06", 800, 807, 60, ()),
    ("Zamora", "49", 1, 32, 60, ()),
    ("Ávila", "05", 1, 5, 58, ()),
    ("Cuenca", "16", 1, 4, 54, ()),
    ("Huesca", "22", 1, 6, 53, ()),
    ("Segovia", "40", 1, 6, 51, ()),
    ("Ibiza", "07", 800, 800, 50, ("Eivissa",)),
    ("Soria", "42", 1, 5, 40, ()),
    ("Teruel", "44", 1, 3, 36, ()),
)

_STREET_TYPES = ("Calle", "Avenida", "Plaza", "Paseo", "Ronda", "Camino")
_STREET_TYPE_P = (0.66, 0.17, 0.07, 0.05, 0.03, 0.02)
_STREET_ABBR = {
    "Calle": "C/",
    "Avenida": "Avda.",
    "Plaza": "Pza.",
    "Paseo": "Pº",
    "Ronda": "Rda.",
    "Camino": "Cno.",
}
_STREETS = (
    "Mayor",
    "Real",
    "Gran Vía",
    "de Alcalá",
    "de la Constitución",
    "de San Francisco",
    "del Sol",
    "de Cervantes",
    "de Goya",
    "de Velázquez",
    "del Carmen",
    "de la Paz",
    "de Colón",
    "Nueva",
    "de la Iglesia",
    "de San Juan",
    "de Andalucía",
    "de Castilla",
    "de la Libertad",
    "de los Reyes Católicos",
    "de Blasco Ibáñez",
    "de Pablo Iglesias",
    "del Doctor Fleming",
    "de Federico García Lorca",
    "de Antonio Machado",
    "de la Estación",
    "del Mar",
    "de la Rosa",
    "de las Flores",
    "del Pilar",
    "de Santiago",
    "de la Virgen del Rocío",
    "de Miguel de Unamuno",
    "de Ramón y Cajal",
    "de Severo Ochoa",
    "de la Marina",
    "de Aragón",
    "de Valencia",
    "de Sevilla",
    "de Toledo",
    "de Extremadura",
    "de Galicia",
    "de Cataluña",
    "del Puerto",
    "de la Ribera",
    "del Parque",
    "de la Alameda",
    "de Santa María",
    "de San Vicente",
    "de Lope de Vega",
    "de Echegaray",
    "de Zurbarán",
    "de Isaac Peral",
    "de Menéndez Pelayo",
    "de Europa",
    "de América",
    "de Portugal",
    "de España",
    "de la Hispanidad",
    "de Rosalía de Castro",
)
_DOMAINS = (
    "gmail.com",
    "hotmail.com",
    "yahoo.es",
    "outlook.es",
    "telefonica.net",
    "hotmail.es",
    "COMPANY",
)
_DOMAIN_P = (0.44, 0.18, 0.07, 0.1, 0.04, 0.06, 0.11)
_OLD_DOMAINS = (
    "hotmail.com",
    "yahoo.es",
    "terra.es",
    "telefonica.net",
    "ya.com",
    "wanadoo.es",
    "gmail.com",
)
_OLD_DOMAIN_P = (0.3, 0.2, 0.12, 0.12, 0.08, 0.08, 0.1)
_COMPANIES = (
    "grupoalmenara.es",
    "construccionesrivas.com",
    "talleresdelnorte.es",
    "asesoriaiberica.es",
    "clinicadelsur.es",
    "logisticalevante.com",
    "hotelesmediterraneo.es",
    "ingenieriaduero.com",
)
_SUBJECTS = (
    "No puedo acceder a mi cuenta",
    "Consulta sobre mi factura",
    "Cambio de domicilio",
    "Solicitud de baja del servicio",
    "Cobro duplicado en la tarjeta",
    "Solicitud de duplicado de factura",
    "Actualizar datos bancarios",
    "Problema con la app, no carga",
    "Quiero cambiar de tarifa",
    "Reclamación por retraso en la entrega",
    "No recibo los correos",
    "Cambio de titular",
    "Darme de baja de la newsletter",
    "Devolución de recibo",
    "Pregunta sobre permanencia",
    "Solicitud de factura con NIF",
    "Incidencia técnica, sin servicio desde ayer",
    'Error "importe incorrecto" en la factura',
    'Me llega el aviso "pago pendiente", pero ya pagué',
    'Consulta sobre la promoción "Verano 2024"',
    "Modificar teléfono de contacto",
)
_PHONE_FORMATS = 8  # see _fmt_phone
_SEGMENTS = ("premium", "familia", "joven", "senior", "estandar")
# P(segment | age band): <30, 30-49, 50-64, 65+
_SEGMENT_P = np.array(
    [
        [0.10, 0.00, 0.70, 0.00, 0.20],
        [0.15, 0.55, 0.00, 0.00, 0.30],
        [0.25, 0.25, 0.00, 0.00, 0.50],
        [0.10, 0.00, 0.00, 0.75, 0.15],
    ]
)

_ASCII = str.maketrans("áéíóúàèìòùäëïöüÁÉÍÓÚÀÈÌÒÙÄËÏÖÜñÑçÇ", "aeiouaeiouaeiouAEIOUAEIOUAEIOUnNcC")
_LETTERS = "abcdefghijklmnopqrstuvwxyzñ"


def _weighted(spec: str) -> tuple[list[str], np.ndarray]:
    pairs = [item.strip().rsplit(" ", 1) for item in spec.split("|")]
    weights = np.array([float(w) for _, w in pairs])
    return [name for name, _ in pairs], weights / weights.sum()


MALE_NAMES, _MALE_P = _weighted(_MALE)
FEMALE_NAMES, _FEMALE_P = _weighted(_FEMALE)
SURNAMES, _SURNAME_P = _weighted(_SURNAMES)
_CITY_P = np.array([c[4] for c in CITIES], dtype=float)
_CITY_P /= _CITY_P.sum()

_EPOCH = np.datetime64("1970-01-01", "D")


def _day(iso: str) -> int:
    return int((np.datetime64(iso, "D") - _EPOCH).astype(int))


_TODAY = _day("2024-12-31")

SOURCES_YAML = """\
# Source configuration for the bundled sample in this directory (exports/ + truth.csv).
# The sample is synthetic; regenerate it (deterministically) with:
#   python -m whiteglove.sample_data --people 3000 --seed 7 --out data
# Paths are relative to this file.
defaults:
  country: ES
sources:
  - name: crm
    path: exports/crm.csv
    format: csv
    csv: {delimiter: ";", encoding: utf-8}
    id: IdCliente
    trust: 1
    updated_at: {column: UltimaModificacion, format: "%d/%m/%Y %H:%M"}
    fields:
      first_name: Nombre
      last_name: Apellidos
      email: Email
      phone: Teléfono
      date_of_birth: {column: FechaNacimiento, format: "%d/%m/%Y"}
      address_line: Dirección
      city: Ciudad
      postcode: CP
      region: Provincia
    attributes:
      signup_date: FechaAlta
  - name: billing
    path: exports/billing.parquet
    format: parquet
    id: account_id
    trust: 2
    updated_at: {column: fecha_actualizacion}
    fields:
      full_name: {column: titular, order: last_first}
      email: email_facturacion
      phone: telefono
      national_id: nif
      address_line: direccion_facturacion
      postcode: codigo_postal
    attributes:
      payment_method: metodo_pago
      monthly_amount: importe_mensual
  - name: marketing
    path: exports/marketing.jsonl
    format: jsonl
    id: id
    trust: 3
    updated_at: {column: updated_at}
    fields:
      full_name: {column: name, order: first_last}
      email: email
      phone: mobile
      date_of_birth: {column: birth_date, format: "%Y-%m-%d"}
      postcode: postal_code
      city: city
    attributes:
      segment: segment
      consent_email: consent_email
  - name: support
    path: exports/support.csv
    format: csv
    id: ticket_id
    trust: 4
    updated_at: {column: opened_at, format: "%Y-%m-%d %H:%M:%S"}
    fields:
      full_name: {column: customer_name, order: first_last}
      email: contact_email
      phone: contact_phone
    attributes:
      ticket_status: status
      ticket_channel: channel
      last_contact: opened_at
# billing holds one account per customer: two accounts in one cluster are two customers
linkage:
  one_record_per_customer: [billing]
"""

CRM_COLUMNS = (
    "IdCliente",
    "Nombre",
    "Apellidos",
    "Email",
    "Teléfono",
    "FechaNacimiento",
    "Dirección",
    "Ciudad",
    "CP",
    "Provincia",
    "FechaAlta",
    "UltimaModificacion",
)
SUPPORT_COLUMNS = (
    "ticket_id",
    "customer_name",
    "contact_email",
    "contact_phone",
    "opened_at",
    "status",
    "channel",
    "subject",
)
MARKETING_KEYS = (
    "id",
    "name",
    "email",
    "mobile",
    "birth_date",
    "postal_code",
    "city",
    "segment",
    "consent_email",
    "updated_at",
)
BILLING_SCHEMA = pa.schema(
    [
        ("account_id", pa.string()),
        ("titular", pa.string()),
        ("email_facturacion", pa.string()),
        ("telefono", pa.string()),
        ("nif", pa.string()),
        ("direccion_facturacion", pa.string()),
        ("codigo_postal", pa.int64()),
        ("metodo_pago", pa.string()),
        ("importe_mensual", pa.float64()),
        ("fecha_actualizacion", pa.timestamp("us")),
    ]
)
TRUTH_COLUMNS = ("source", "source_record_id", "row_number", "person_id")


@dataclass(frozen=True)
class SampleSummary:
    """What `generate` wrote: file paths and exported row counts."""

    out_dir: Path
    people: int
    seed: int
    exports: dict[str, Path]
    records: dict[str, int]
    truth: Path
    config: Path


# --------------------------------------------------------------------------- people
@dataclass
class _People:
    first: list[str]
    sur1: list[str]
    sur2: list[str]
    email: list[str]
    old_email: list[str]
    phone: list[str]
    dob: np.ndarray  # days since epoch
    dni: list[str]
    addr: list[str]
    city: np.ndarray
    postcode: list[str]
    old_addr: list[str]
    old_city: np.ndarray
    old_postcode: list[str]


def _unique_ints(rng: Generator, n: int, lo: int, hi: int) -> np.ndarray:
    # Shared phones/DNIs between different people would be unintended strong links.
    vals = rng.integers(lo, hi, n)
    while True:
        _, first_idx = np.unique(vals, return_index=True)
        dup = np.ones(n, bool)
        dup[first_idx] = False
        if not dup.any():
            return vals
        vals[dup] = rng.integers(lo, hi, int(dup.sum()))


def _ascii_token(s: str) -> str:
    return s.translate(_ASCII).lower().replace(" ", "").replace("'", "").replace("-", "")


def _local_part(t: int, f: str, a: str, b: str, k: int, y: int) -> str:
    if t == 0:
        return f"{f}.{a}"
    if t == 1:
        return f"{f}.{a}{k}"
    if t == 2:
        return f"{f[0]}{a}{k}"
    if t == 3:
        return f"{f}{a}{y % 100:02d}"
    if t == 4:
        return f"{f}.{a}.{b}"
    if t == 5:
        return f"{f}_{a}{k}"
    if t == 6:
        return f"{a}.{f}{k}"
    return f"{f}{a[0]}{b[:1]}{y}"


def _make_emails(
    rng: Generator,
    first: list[str],
    sur1: list[str],
    sur2: list[str],
    year: np.ndarray,
    domains: Sequence[str],
    domain_p: Sequence[float],
    taken: dict[str, int],
) -> list[str]:
    n = len(first)
    tmpl = rng.integers(0, 8, n).tolist()
    num = rng.integers(1, 100, n).tolist()
    dom = rng.choice(len(domains), n, p=domain_p).tolist()
    comp = rng.integers(0, len(_COMPANIES), n).tolist()
    years = year.tolist()
    # Names come from a small vocabulary, so tokenise each spelling once.
    tok = {s: _ascii_token(s) for s in {*first, *sur1, *sur2}}
    out = []
    for i in range(n):
        f, a, b = tok[first[i]], tok[sur1[i]], tok[sur2[i]]
        d = domains[dom[i]]
        if d == "COMPANY":
            d = _COMPANIES[comp[i]]
            local = f"{f}.{a}" if tmpl[i] < 5 else f"{f[0]}{a}"
        else:
            local = _local_part(tmpl[i], f, a, b, num[i], years[i])
        email = f"{local}@{d}"
        # Counter per base address keeps uniquifying linear even for "mgarcia@gmail.com".
        if email in taken:
            k = taken[email]
            while f"{local}{k}@{d}" in taken:
                k += 1
            taken[email] = k + 1
            email = f"{local}{k}@{d}"
        taken[email] = 2
        out.append(email)
    return out


def _make_addresses(rng: Generator, city: np.ndarray) -> tuple[list[str], list[str]]:
    n = len(city)
    stype = rng.choice(len(_STREET_TYPES), n, p=_STREET_TYPE_P).tolist()
    street = rng.integers(0, len(_STREETS), n).tolist()
    number = np.minimum(rng.geometric(0.04, n), 250).tolist()
    has_piso = (rng.random(n) < 0.6).tolist()
    floor = rng.integers(1, 10, n).tolist()
    door = rng.integers(0, 7, n).tolist()
    doors = ("A", "B", "C", "D", "izda.", "dcha.", "A")
    addr = []
    for i in range(n):
        a = f"{_STREET_TYPES[stype[i]]} {_STREETS[street[i]]}, {number[i]}"
        if has_piso[i]:
            a += f", {floor[i]}º {doors[door[i]]}"
        addr.append(a)
    lo = np.array([c[2] for c in CITIES])[city]
    hi = np.array([c[3] for c in CITIES])[city]
    suffix = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    codes = [CITIES[c][1] for c in city.tolist()]
    postcode = [f"{p}{s:03d}" for p, s in zip(codes, suffix.tolist(), strict=False)]
    return addr, postcode


def _build_people(rng: Generator, n: int) -> _People:
    male = rng.random(n) < 0.49
    mi = rng.choice(len(MALE_NAMES), n, p=_MALE_P).tolist()
    fi = rng.choice(len(FEMALE_NAMES), n, p=_FEMALE_P).tolist()
    first = [
        MALE_NAMES[m] if s else FEMALE_NAMES[f]
        for s, m, f in zip(male.tolist(), mi, fi, strict=False)
    ]
    s1 = rng.choice(len(SURNAMES), n, p=_SURNAME_P)
    s2 = rng.choice(len(SURNAMES), n, p=_SURNAME_P)
    city = rng.choice(len(CITIES), n, p=_CITY_P)
    # Explicit namesakes (~1%): same full name and city, everything else independent.
    k = round(n * 0.01) if n >= 20 else 0
    if k:
        targets = rng.choice(n, k, replace=False)
        pool = np.setdiff1d(np.arange(n), targets)
        models = pool[rng.integers(0, len(pool), k)]
        for t, m in zip(targets.tolist(), models.tolist(), strict=False):
            first[t] = first[m]
            city[t] = city[m]
        s1[targets], s2[targets] = s1[models], s2[models]
    sur1 = [SURNAMES[i] for i in s1.tolist()]
    sur2 = [SURNAMES[i] for i in s2.tolist()]

    # Customers skew middle-aged; the uniform part keeps the whole 1935-2006 range covered.
    lo, hi = _day("1935-01-01"), _day("2006-12-31")
    dob = np.where(
        rng.random(n) < 0.85, rng.normal(_day("1975-06-01"), 14 * 365.25, n), rng.uniform(lo, hi, n)
    )
    # Redraw rather than clip: clipping would pile people onto two birthdays.
    outside = (dob < lo) | (dob > hi)
    dob[outside] = rng.uniform(lo, hi, int(outside.sum()))
    dob = dob.astype(np.int64)
    year = dob.astype("datetime64[D]").astype("datetime64[Y]").astype(int) + 1970

    taken: dict[str, int] = {}
    email = _make_emails(rng, first, sur1, sur2, year, _DOMAINS, _DOMAIN_P, taken)
    old_email = _make_emails(rng, first, sur1, sur2, year, _OLD_DOMAINS, _OLD_DOMAIN_P, taken)

    kind = rng.random(n)
    mobile6 = _unique_ints(rng, n, 600_000_000, 700_000_000)
    mobile7 = _unique_ints(rng, n, 710_000_000, 750_000_000)
    land = _unique_ints(rng, n, 910_000_000, 989_999_999)
    phone_num = np.where(kind < 0.85, mobile6, np.where(kind < 0.9, mobile7, land))
    phone = [str(p) for p in phone_num.tolist()]

    dni_num = _unique_ints(rng, n, 1_000_000, 80_000_000)
    dni = [f"{d:08d}{DNI_LETTERS[d % 23]}" for d in dni_num.tolist()]

    addr, postcode = _make_addresses(rng, city)
    # Half of movers stay in town; the rest came from anywhere.
    old_city = np.where(rng.random(n) < 0.5, city, rng.choice(len(CITIES), n, p=_CITY_P))
    old_addr, old_postcode = _make_addresses(rng, old_city)
    return _People(
        first,
        sur1,
        sur2,
        email,
        old_email,
        phone,
        dob,
        dni,
        addr,
        city,
        postcode,
        old_addr,
        old_city,
        old_postcode,
    )


def _presence(rng: Generator, n: int) -> np.ndarray:
    p = np.array([0.8, 0.6, 0.5, 0.4])
    pres = rng.random((n, 4)) < p
    none = ~pres.any(axis=1)
    while none.any():
        pres[none] = rng.random((int(none.sum()), 4)) < p
        none = ~pres.any(axis=1)
    # Independent draws leave ~17.5% of people in a single system; linking a fifth of those
    # to one more (random, possibly the same) system brings that to the intended ~15%.
    widen = (pres.sum(axis=1) == 1) & (rng.random(n) < 0.2)
    pres[np.flatnonzero(widen), rng.integers(0, 4, n)[widen]] = True
    return pres


# --------------------------------------------------------------------------- defects
def _typo(s: str, pos: float, kind: float, char: float) -> str:
    if len(s) < 3:
        return s
    # People rarely get the initial wrong, so keep index 0 intact.
    i = 1 + int(pos * (len(s) - 1))
    i = min(i, len(s) - 1)
    k = int(kind * 3)
    if k == 0:
        c = _LETTERS[int(char * len(_LETTERS))]
        if c == s[i].lower():
            c = "e" if c != "e" else "a"
        if s[i].isupper():
            c = c.upper()
        return s[:i] + c + s[i + 1 :]
    if k == 1 or i == len(s) - 1 or s[i] == s[i + 1]:
        return s[:i] + s[i + 1 :]
    return s[:i] + s[i + 1] + s[i] + s[i + 2 :]


def _vary_names(
    rng: Generator,
    ppl: _People,
    pidx: np.ndarray,
    *,
    nick: float | np.ndarray,
    trunc: float,
    typo: float | np.ndarray,
    miss2: float,
    extra: float,
) -> tuple[list[str], list[str], list[str]]:
    """Per-record first name and surnames after nickname/typo/surname defects."""
    n = len(pidx)
    u = rng.random((n, 5))
    m_nick = (u[:, 0] < nick).tolist()
    m_trunc = (u[:, 1] < trunc).tolist()
    m_typo = (u[:, 2] < typo).tolist()
    m_miss = (u[:, 3] < miss2).tolist()
    m_extra = (u[:, 4] < extra).tolist()
    aux = rng.random((n, 6)).tolist()
    extra_sn = rng.choice(len(SURNAMES), n, p=_SURNAME_P).tolist()
    first, sur1, sur2 = ppl.first, ppl.sur1, ppl.sur2
    out_f, out_a, out_b = [], [], []
    for j, p in enumerate(pidx.tolist()):
        f, a, b = first[p], sur1[p], sur2[p]
        x = aux[j]
        if m_nick[j] and f in NICKNAMES:
            opts = NICKNAMES[f]
            f = opts[int(x[0] * len(opts))]
        elif m_trunc[j] and " " in f:
            f = f.split(" ", 1)[0]
        if m_miss[j]:
            b = ""
        elif m_extra[j]:
            if x[1] < 0.5:
                a, b = f"{a}-{b}", ""
            else:
                b = f"{b} {SURNAMES[extra_sn[j]]}"
        if m_typo[j]:
            if x[2] < 0.5:
                f = _typo(f, x[3], x[4], x[5])
            elif x[2] < 0.85 or not b:
                a = _typo(a, x[3], x[4], x[5])
            else:
                b = _typo(b, x[3], x[4], x[5])
        out_f.append(f)
        out_a.append(a)
        out_b.append(b)
    return out_f, out_a, out_b


def _case_email(e: str, k: int) -> str:
    local, _, dom = e.partition("@")
    if k == 0:
        return e.upper()
    if k == 1:
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + dom
    return f"{local}@{dom.capitalize()}"


def _emails(
    rng: Generator,
    ppl: _People,
    pidx: np.ndarray,
    *,
    old: float | np.ndarray,
    missing: float | np.ndarray,
    case: float,
    spaces: float,
) -> list[str | None]:
    n = len(pidx)
    u = rng.random((n, 4))
    m_old = (u[:, 0] < old).tolist()
    m_miss = (u[:, 1] < missing).tolist()
    m_case = (u[:, 2] < case).tolist()
    m_space = (u[:, 3] < spaces).tolist()
    kind = rng.integers(0, 3, n).tolist()
    out: list[str | None] = []
    for j, p in enumerate(pidx.tolist()):
        if m_miss[j]:
            out.append(None)
            continue
        e = ppl.old_email[p] if m_old[j] else ppl.email[p]
        if m_case[j]:
            e = _case_email(e, kind[j])
        if m_space[j]:
            e = (f" {e}", f"{e} ", f" {e}  ")[kind[j]]
        out.append(e)
    return out


def _fmt_phone(d: str, k: int) -> str:
    if k == 0:
        return f"+34 {d[:3]} {d[3:6]} {d[6:]}"
    if k == 1:
        return d
    if k == 2:
        return f"{d[:3]} {d[3:5]} {d[5:7]} {d[7:]}"
    if k == 3:
        return f"0034{d}"
    if k == 4:
        return f"(+34) {d[:3]}-{d[3:6]}-{d[6:]}"
    if k == 5:
        return f"34 {d}"
    if k == 6:
        return f"{d[:3]} {d[3:6]} {d[6:]}"
    return f"+34{d}"


def _phones(
    rng: Generator,
    ppl: _People,
    pidx: np.ndarray,
    weights: Sequence[float],
    missing: float | np.ndarray,
) -> list[str | None]:
    n = len(pidx)
    w = np.asarray(weights, float)
    fmt = rng.choice(_PHONE_FORMATS, n, p=w / w.sum()).tolist()
    miss = (rng.random(n) < missing).tolist()
    phone = ppl.phone
    return [
        None if m else _fmt_phone(phone[p], k)
        for p, k, m in zip(pidx.tolist(), fmt, miss, strict=False)
    ]


def _iso_days(days: np.ndarray) -> list[str]:
    return np.datetime_as_string(days.astype("datetime64[D]")).tolist()


def _iso_seconds(secs: np.ndarray) -> list[str]:
    return np.datetime_as_string(secs.astype("datetime64[s]"), unit="s").tolist()


def _random_seconds(
    rng: Generator, start_day: np.ndarray | int, end_day: np.ndarray | int, n: int
) -> np.ndarray:
    """Office-hours-ish timestamps (epoch seconds) uniformly between two days."""
    span = np.maximum(np.asarray(end_day) - np.asarray(start_day), 0)
    day = np.asarray(start_day) + (rng.random(n) * (span + 1)).astype(np.int64)
    sec = rng.integers(8 * 3600, 21 * 3600, n)
    return day.astype(np.int64) * 86400 + sec


def _pick(mask: np.ndarray, new: Sequence, old: Sequence) -> list:
    return [b if m else a for m, a, b in zip(mask.tolist(), old, new, strict=False)]


def _strip_zero(pcs: Sequence[str | None], mask: np.ndarray) -> list[str | None]:
    return [
        pc[1:] if (m and pc and pc[0] == "0") else pc
        for pc, m in zip(pcs, mask.tolist(), strict=False)
    ]


def _city_names(rng: Generator, cities: np.ndarray, alias: float) -> list[str]:
    u = (rng.random(len(cities)) < alias).tolist()
    out = []
    for c, m in zip(cities.tolist(), u, strict=False):
        name, aliases = CITIES[c][0], CITIES[c][5]
        out.append(aliases[0] if (m and aliases) else name)
    return out


def _ids_with_gaps(rng: Generator, n: int, start: int) -> np.ndarray:
    # Deleted accounts leave holes in real id sequences.
    return start + np.cumsum(rng.integers(1, 4, n))


# --------------------------------------------------------------------------- sources
def _crm(rng: Generator, ppl: _People, members: np.ndarray) -> tuple[list, list]:
    n_mem = len(members)
    dup = members[rng.random(n_mem) < 0.04]
    pidx = np.concatenate([members, dup])
    is_dup = np.zeros(len(pidx), bool)
    is_dup[n_mem:] = True
    adult = ppl.dob[pidx] + int(18 * 365.25)
    signup_lo = np.maximum(adult, _day("2005-01-01"))
    signup = signup_lo + (rng.random(len(pidx)) * np.maximum(_day("2024-09-30") - signup_lo, 0))
    signup = np.minimum(signup.astype(np.int64), _TODAY)
    order = np.argsort(signup, kind="stable")
    pidx, is_dup, signup = pidx[order], is_dup[order], signup[order]
    n = len(pidx)
    pl = pidx.tolist()

    # A duplicate row is only a duplicate if something differs; force one change.
    has_nick = np.array([ppl.first[p] in NICKNAMES for p in pidx.tolist()], bool)
    forced = rng.integers(0, 3, n)
    f_nick = is_dup & (forced == 0) & has_nick
    f_typo = is_dup & ((forced == 1) | ((forced == 0) & ~has_nick))
    f_old = is_dup & (forced == 2)
    # The original of a forced old-email duplicate must show the current address.
    keep_current = ~is_dup & np.isin(pidx, pidx[f_old])
    old_rate = np.where(f_old, 1.0, np.where(keep_current, 0.0, 0.06))
    first, sur1, sur2 = _vary_names(
        rng,
        ppl,
        pidx,
        nick=np.where(f_nick, 1.0, 0.04),
        trunc=0.03,
        typo=np.where(f_typo, 1.0, 0.04),
        miss2=0.04,
        extra=0.02,
    )
    surnames = [f"{a} {b}" if b else a for a, b in zip(sur1, sur2, strict=False)]
    strip = rng.random(n) < 0.06
    upper = rng.random(n) < 0.03
    first = [f.translate(_ASCII) if s else f for f, s in zip(first, strip.tolist(), strict=False)]
    surnames = [
        a.translate(_ASCII) if s else a for a, s in zip(surnames, strip.tolist(), strict=False)
    ]
    first = [f.upper() if u else f for f, u in zip(first, upper.tolist(), strict=False)]
    surnames = [a.upper() if u else a for a, u in zip(surnames, upper.tolist(), strict=False)]

    email = _emails(rng, ppl, pidx, old=old_rate, missing=0.05, case=0.05, spaces=0.04)
    phone = _phones(rng, ppl, pidx, (5, 5, 3, 1, 1, 1, 3, 1), missing=0.06)
    dob = [f"{s[8:10]}/{s[5:7]}/{s[:4]}" for s in _iso_days(ppl.dob[pidx])]
    dob = [None if m else d for d, m in zip(dob, (rng.random(n) < 0.05).tolist(), strict=False)]

    moved = rng.random(n) < 0.07
    addr = _pick(moved, [ppl.old_addr[p] for p in pl], [ppl.addr[p] for p in pl])
    cities = np.where(moved, ppl.old_city[pidx], ppl.city[pidx])
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    # Someone opened the export in a spreadsheet: "08001" became 8001.
    pcs = _strip_zero(pcs, rng.random(n) < 0.25)
    city_names = _city_names(rng, cities, 0.08)
    prov_alias = (rng.random(n) < 0.1).tolist()
    provinces = []
    for c, m in zip(cities.tolist(), prov_alias, strict=False):
        name, aliases = PROVINCES[CITIES[c][1]]
        provinces.append(aliases[0] if (m and aliases) else name)
    city_upper = (rng.random(n) < 0.04).tolist()
    city_names = [c.upper() if u else c for c, u in zip(city_names, city_upper, strict=False)]
    missing_addr = (rng.random(n) < 0.03).tolist()
    addr = [None if m else a for a, m in zip(addr, missing_addr, strict=False)]
    pcs = [None if m else p for p, m in zip(pcs, (rng.random(n) < 0.03).tolist(), strict=False)]

    alta = [f"{s[8:10]}/{s[5:7]}/{s[:4]}" for s in _iso_days(signup)]
    mod = _iso_seconds(_random_seconds(rng, signup, _TODAY, n))
    mod = [f"{s[8:10]}/{s[5:7]}/{s[:4]} {s[11:16]}" for s in mod]
    ids = [f"C{i:06d}" for i in _ids_with_gaps(rng, n, 0).tolist()]

    rows: list = list(
        zip(
            ids,
            first,
            surnames,
            email,
            phone,
            dob,
            addr,
            city_names,
            pcs,
            provinces,
            alta,
            mod,
            strict=False,
        )
    )
    rec_ids: list = list(ids)
    _damage_crm(rng, rows, rec_ids, pidx, ppl)
    return rows, list(zip(rec_ids, pl, strict=False))


def _damage_crm(rng: Generator, rows: list, rec_ids: list, pidx: np.ndarray, ppl: _People) -> None:
    """Corrupt ~0.3% of CRM rows, every kind at least once (needs >= 7 rows)."""
    n = len(rows)
    k = min(max(6, round(n * 0.003)), n - 1)
    if k < 6:
        return
    where = rng.choice(n, k, replace=False).tolist()
    kinds = list(range(6)) + rng.integers(0, 6, k - 6).tolist()
    cut = rng.integers(4, 10, k).tolist()
    damaged = set(where)
    # Reuse the id of an intact row so the collision is visible in the file.
    donors = [d for d in rng.integers(0, n, 4 * k + 8).tolist() if d not in damaged]
    for r, kind, c in zip(where, kinds, cut, strict=False):
        row = rows[r] = list(rows[r])
        if kind == 0:
            row[0] = ""
            rec_ids[r] = ""
        elif kind == 1:
            rows[r] = row[:c]
        elif kind == 2:
            row[3] = ppl.email[int(pidx[r])].split("@")[0] + "@"
        elif kind == 3:
            row[5] = "01/01/2099"
        elif kind == 4:
            rows[r] = [row[0]] + [None] * 9 + [row[10], None]
        else:
            row[0] = rows[donors.pop()][0] if donors else row[0]
            rec_ids[r] = row[0]


def _billing(rng: Generator, ppl: _People, members: np.ndarray) -> tuple[pa.Table, list]:
    pidx = members[rng.permutation(len(members))]
    n = len(pidx)
    pl = pidx.tolist()
    first, sur1, sur2 = _vary_names(
        rng, ppl, pidx, nick=0.02, trunc=0.04, typo=0.03, miss2=0.05, extra=0.02
    )
    title = (rng.random(n) < 0.15).tolist()
    titular = []
    for f, a, b, t in zip(first, sur1, sur2, title, strict=False):
        s = (f"{a} {b}, {f}" if b else f"{a}, {f}").translate(_ASCII)
        titular.append(s if t else s.upper())
    email = _emails(rng, ppl, pidx, old=0.05, missing=0.06, case=0.06, spaces=0.03)
    phone = _phones(rng, ppl, pidx, (1, 9, 1, 4, 0, 2, 2, 1), missing=0.08)

    u = rng.random((n, 3))
    nif = []
    for p, (miss, low, dash) in zip(pidx.tolist(), u.tolist(), strict=False):
        d = ppl.dni[p]
        if miss < 0.08:
            nif.append(None)
            continue
        if low < 0.08:
            d = d[:8] + d[8].lower()
        if dash < 0.08:
            d = f"{d[:8]}-{d[8]}"
        nif.append(d)

    moved = rng.random(n) < 0.05
    addr = _pick(moved, [ppl.old_addr[p] for p in pl], [ppl.addr[p] for p in pl])
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    abbr = (rng.random(n) < 0.3).tolist()
    upper = (rng.random(n) < 0.35).tolist()
    out_addr: list[str | None] = []
    for a, ab, up in zip(addr, abbr, upper, strict=False):
        if ab:
            stype, rest = a.split(" ", 1)
            a = f"{_STREET_ABBR[stype]} {rest}"
        out_addr.append(a.translate(_ASCII).upper() if up else a)
    out_addr = [
        None if m else a for a, m in zip(out_addr, (rng.random(n) < 0.02).tolist(), strict=False)
    ]
    cp = [None if m else int(p) for p, m in zip(pcs, (rng.random(n) < 0.02).tolist(), strict=False)]

    method = rng.choice(4, n, p=[0.35, 0.45, 0.12, 0.08])
    methods = np.array(["tarjeta", "domiciliacion", "paypal", "transferencia"])[method]
    amount = np.round(np.exp(rng.normal(3.3, 0.5, n)), 2)
    updated = _random_seconds(rng, _day("2023-01-01"), _TODAY, n) * 1_000_000
    ids = [f"B-{i:07d}" for i in _ids_with_gaps(rng, n, 0).tolist()]
    table = pa.table(
        [
            pa.array(ids, pa.string()),
            pa.array(titular, pa.string()),
            pa.array(email, pa.string()),
            pa.array(phone, pa.string()),
            pa.array(nif, pa.string()),
            pa.array(out_addr, pa.string()),
            pa.array(cp, pa.int64()),
            pa.array(methods.tolist(), pa.string()),
            pa.array(amount, pa.float64()),
            pa.array(updated.astype("datetime64[us]"), pa.timestamp("us")),
        ],
        schema=BILLING_SCHEMA,
    )
    return table, list(zip(ids, pidx.tolist(), strict=False))


def _marketing(rng: Generator, ppl: _People, members: np.ndarray) -> tuple[list[str], list]:
    dup = members[rng.random(len(members)) < 0.02]
    pidx = np.concatenate([members, dup])
    is_dup = np.zeros(len(pidx), bool)
    is_dup[len(members) :] = True
    order = rng.permutation(len(pidx))
    pidx, is_dup = pidx[order], is_dup[order]
    n = len(pidx)
    pl = pidx.tolist()
    first, sur1, sur2 = _vary_names(
        rng,
        ppl,
        pidx,
        nick=np.where(is_dup, 0.4, 0.06),
        trunc=0.05,
        typo=np.where(is_dup, 0.3, 0.04),
        miss2=0.15,
        extra=0.01,
    )
    u = rng.random((n, 3)).tolist()
    names = []
    for f, a, b, (strip, low, up) in zip(first, sur1, sur2, u, strict=False):
        s = f"{f} {a} {b}" if b else f"{f} {a}"
        if strip < 0.1:
            s = s.translate(_ASCII)
        if low < 0.03:
            s = s.lower()
        elif up < 0.02:
            s = s.upper()
        names.append(s)
    email = _emails(
        rng, ppl, pidx, old=np.where(is_dup, 0.7, 0.08), missing=0.01, case=0.06, spaces=0.04
    )
    mobile = _phones(rng, ppl, pidx, (7, 2, 1, 1, 2, 1, 1, 5), missing=0.15)
    bd = _iso_days(ppl.dob[pidx])
    bd = [None if m else d for d, m in zip(bd, (rng.random(n) < 0.3).tolist(), strict=False)]
    moved = rng.random(n) < 0.08
    pcs = _pick(moved, [ppl.old_postcode[p] for p in pl], [ppl.postcode[p] for p in pl])
    pcs = _strip_zero(pcs, rng.random(n) < 0.05)
    pcs = [None if m else p for p, m in zip(pcs, (rng.random(n) < 0.05).tolist(), strict=False)]
    cities = np.where(moved, ppl.old_city[pidx], ppl.city[pidx])
    city = _city_names(rng, cities, 0.1)
    city = [None if m else c for c, m in zip(city, (rng.random(n) < 0.05).tolist(), strict=False)]

    age = (_TODAY - ppl.dob[pidx]) / 365.25
    band = np.digitize(age, [30, 50, 65])
    cum = np.cumsum(_SEGMENT_P[band], axis=1)
    seg = (rng.random(n)[:, None] > cum).sum(axis=1)
    segment = [_SEGMENTS[min(s, 4)] for s in seg.tolist()]
    consent = (rng.random(n) < 0.7).tolist()
    updated = _iso_seconds(_random_seconds(rng, _day("2022-01-01"), _TODAY, n))
    ids = _ids_with_gaps(rng, n, 100_000).tolist()
    lines = [
        json.dumps(dict(zip(MARKETING_KEYS, rec, strict=False)), ensure_ascii=False)
        for rec in zip(
            ids, names, email, mobile, bd, pcs, city, segment, consent, updated, strict=False
        )
    ]
    return lines, list(zip([str(i) for i in ids], pidx.tolist(), strict=False))


def _support(rng: Generator, ppl: _People, members: np.ndarray) -> tuple[list, list]:
    tickets = np.minimum(rng.geometric(0.5, len(members)), 6)
    pidx = np.repeat(members, tickets)
    n = len(pidx)
    opened = _random_seconds(rng, _day("2022-01-01"), _TODAY, n)
    order = np.argsort(opened, kind="stable")
    pidx, opened = pidx[order], opened[order]

    first, sur1, sur2 = _vary_names(
        rng, ppl, pidx, nick=0.08, trunc=0.06, typo=0.06, miss2=0.0, extra=0.0
    )
    style = rng.choice(5, n, p=[0.3, 0.45, 0.12, 0.05, 0.08]).tolist()
    strip = (rng.random(n) < 0.15).tolist()
    names = []
    for f, a, b, s, st in zip(first, sur1, sur2, style, strip, strict=False):
        full = f"{f} {a} {b}" if b else f"{f} {a}"
        name = (full, f"{f} {a}", f"{f} {a}".lower(), f, full.upper())[s]
        names.append(name.translate(_ASCII) if st else name)

    channel = rng.choice(3, n, p=[0.4, 0.35, 0.25])
    email_missing = np.array([0.5, 0.05, 0.15])[channel]
    phone_missing = np.array([0.05, 0.6, 0.7])[channel]
    email = _emails(rng, ppl, pidx, old=0.1, missing=email_missing, case=0.08, spaces=0.05)
    phone = _phones(rng, ppl, pidx, (3, 6, 4, 1, 2, 1, 2, 1), missing=phone_missing)

    recent = opened >= _day("2024-11-15") * 86400
    st = np.where(
        recent, rng.choice(3, n, p=[0.45, 0.25, 0.3]), rng.choice(3, n, p=[0.03, 0.05, 0.92])
    )
    status = np.array(["open", "pending", "closed"])[st].tolist()
    channels = np.array(["phone", "email", "chat"])[channel].tolist()
    subject = [_SUBJECTS[i] for i in rng.integers(0, len(_SUBJECTS), n).tolist()]
    opened_s = [s.replace("T", " ") for s in _iso_seconds(opened)]
    ids = [f"T-{i:06d}" for i in range(1, n + 1)]
    rows = list(zip(ids, names, email, phone, opened_s, status, channels, subject, strict=False))
    return rows, list(zip(ids, pidx.tolist(), strict=False))


# --------------------------------------------------------------------------- writing
def _write_csv(path: Path, header: Sequence[str], rows: list, delimiter: str) -> None:
    # csv writes None as an empty field, which is how these systems export nulls.
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def generate(out_dir: Path, people: int = 3000, seed: int = 7) -> SampleSummary:
    """Write the four exports and truth.csv for `people` synthetic customers into out_dir.

    Also writes ``sources.yaml`` if out_dir has none, so the directory is a usable sample.
    """
    if people < 1:
        raise ValueError("people must be >= 1")
    out_dir = Path(out_dir)
    # Millions of short-lived row tuples make the cyclic GC rescan the heap over and over
    # (it roughly doubled the runtime); nothing here creates reference cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(out_dir, people, seed)
    finally:
        if gc_was_enabled:
            gc.enable()


def _generate(out_dir: Path, people: int, seed: int) -> SampleSummary:
    exports = out_dir / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    rng = Generator(PCG64(seed))

    ppl = _build_people(rng, people)
    pres = _presence(rng, people)
    members = [np.flatnonzero(pres[:, i]) for i in range(4)]

    crm_rows, crm_truth = _crm(rng, ppl, members[0])
    billing_table, billing_truth = _billing(rng, ppl, members[1])
    mkt_lines, mkt_truth = _marketing(rng, ppl, members[2])
    sup_rows, sup_truth = _support(rng, ppl, members[3])

    paths = {
        "crm": exports / "crm.csv",
        "billing": exports / "billing.parquet",
        "marketing": exports / "marketing.jsonl",
        "support": exports / "support.csv",
    }
    _write_csv(paths["crm"], CRM_COLUMNS, crm_rows, ";")
    pq.write_table(billing_table, paths["billing"], compression="zstd")
    with paths["marketing"].open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(mkt_lines) + ("\n" if mkt_lines else ""))
    _write_csv(paths["support"], SUPPORT_COLUMNS, sup_rows, ",")

    truth = out_dir / "truth.csv"
    with truth.open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(TRUTH_COLUMNS) + "\n")
        for source, pairs in zip(
            SOURCES, (crm_truth, billing_truth, mkt_truth, sup_truth), strict=False
        ):
            # Ids never contain commas or quotes, so plain joining is valid CSV.
            fh.write(
                "".join(f"{source},{rid},{i},{pid}\n" for i, (rid, pid) in enumerate(pairs, 1))
            )

    config = out_dir / "sources.yaml"
    if not config.exists():
        config.write_text(SOURCES_YAML, encoding="utf-8")
    records = {
        s: len(t)
        for s, t in zip(SOURCES, (crm_truth, billing_truth, mkt_truth, sup_truth), strict=False)
    }
    return SampleSummary(out_dir, people, seed, paths, records, truth, config)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point: ``python -m whiteglove.sample_data --people N --seed S --out DIR``."""
    parser = argparse.ArgumentParser(
        prog="python -m whiteglove.sample_data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("data"))
    args = parser.parse_args(argv)
    summary = generate(args.out, people=args.people, seed=args.seed)
    counts = ", ".join(f"{k}={v}" for k, v in summary.records.items())
    print(f"wrote {summary.out_dir} for {summary.people} people: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
