"""Labelled text-half sets for bench/text_quality.py: each image comes with a description that a stand-in
for the VLM returns (bench only). Real human-written names (Unicode emoji names grouped into six coarse
categories by code-chart ranges; WordNet nouns under six roots) and a rich stand-in for the 20 CIFAR-10 samples."""

from __future__ import annotations

import hashlib
import random
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

SAMPLES = Path(__file__).resolve().parent.parent / "samples" / "cifar10"
FALLBACK_SAMPLES = Path("/work/main/samples/cifar10")

# Coarse categories by Unicode code-chart ranges (Miscellaneous Symbols and Pictographs; Transport and Map
# Symbols). Left out, as not clearly one category: chestnut, hot pepper, mushroom (plant/food), drinks and
# tableware, eyeglasses and bags, stations, signs and symbols, and the "... face" duplicates of animals.
EMOJI_RANGES: dict[str, list[tuple[int, int]]] = {
    "animals": [(0x1F400, 0x1F43C)],
    "food": [(0x1F345, 0x1F372)],
    "plants": [(0x1F331, 0x1F335), (0x1F337, 0x1F343)],
    "vehicles": [(0x1F680, 0x1F688), (0x1F68A, 0x1F68E), (0x1F690, 0x1F6A4), (0x1F6B2, 0x1F6B2)],
    "clothes": [(0x1F451, 0x1F452), (0x1F454, 0x1F459), (0x1F45E, 0x1F462)],
    "sports": [(0x1F3BD, 0x1F3C0), (0x1F3C8, 0x1F3C9), (0x1F3CF, 0x1F3D3), (0x1F3F8, 0x1F3F8), (0x26BD, 0x26BE)],
}

# The 20 CIFAR-10 samples (samples/cifar10, in file order): the right object, a smaller object of another
# class, and the scenery, in three sentences. Written for this bench by looking at the class, not tuned.
CIFAR_DESCRIPTIONS = [
    "A tabby cat sits on a wooden floor and looks at the camera. A small toy car lies near its paws. Behind it is a beige wall.",
    "A large grey cargo ship sails across calm open water. A seagull flies low over the bow. The sky is pale and hazy.",
    "A white passenger ship is moored in a harbour. A small airplane passes high in the sky above it. The water is dark blue.",
    "A jet airplane flies through a clear blue sky with its wheels down. A bird is a tiny dark speck near one wing. Nothing else is in view.",
    "A green frog squats on a wet rock. A beetle-sized toy truck sits at the edge of the rock. Moss and water surround it.",
    "A brown frog rests among fallen leaves. A small bird perches on a twig in the background. The ground is damp soil.",
    "A red car is parked on a city street. A dog stands on the pavement next to it. Shop windows line the road.",
    "A spotted frog sits on a lily pad in a pond. A small boat floats far away on the water. Reeds grow at the edges.",
    "A grey cat lies curled up on a sofa cushion. A toy horse figure stands on the armrest. The room is softly lit.",
    "A silver car drives along a country road. A horse grazes in the field behind it. Trees and hills fill the background.",
    "A small propeller airplane stands on a grass airfield. A dog runs across the grass near its tail. The sky is cloudy.",
    "A large red truck with a trailer drives on a highway. A car is visible far behind it. The road runs through flat farmland.",
    "A brown dog sits on a lawn with its tongue out. A cat watches it from a fence in the background. The garden is sunny.",
    "A chestnut horse stands in a paddock. A small frog sits by the water trough at its hooves. A wooden fence runs behind it.",
    "A white delivery truck is parked by a warehouse. A cat sits on a crate near the loading door. The pavement is wet.",
    "A fishing ship heads out to sea. A small airplane flies along the coast in the distance. Waves break white around the hull.",
    "A black and white dog runs across a beach. A small ship is visible on the horizon. The sand is pale and the sea calm.",
    "A grey horse gallops across a meadow. A dog follows far behind it. Hills and a blue sky fill the background.",
    "A tall sailing ship with white sails crosses the sea. A small bird rests on the railing. The sky is clear.",
    "A bright green tree frog clings to a leaf. A tiny toy car lies on the ground below. The background is dense foliage.",
]


@dataclass
class TextSet:
    name: str
    criterion: str
    k: int
    paths: list[str]
    truth: dict[str, str]  # path -> true class
    descriptions: dict[str, str]  # path -> the description the stand-in VLM returns

# The same 20 photos described a second time, by a helper that saw neither the descriptions above nor the pipeline
# (same three-sentence form, wording varied as a describer would: "freighter", "lorry", "toad", "pug").
CIFAR_DESCRIPTIONS_B = [
    "A grey tabby cat with bright green eyes is curled up on a cushion, staring straight at the camera. A small toy truck lies tipped over near the edge of the cushion. Behind it is a dim living room with a beige wall and a floor lamp.",
    "A large red-and-black cargo freighter stacked high with containers moves slowly across the water. A bird glides low over the waves near its bow. The sea is calm and grey under an overcast sky, with a faint coastline on the horizon.",
    "A white two-deck passenger ferry is moored alongside a concrete pier. A little car waits at the end of the loading ramp. Green hills rise in the background beneath a pale blue sky dotted with clouds.",
    "A silver airliner with its landing gear extended is descending on its final approach. Off to the left, a tiny bird flaps across the frame. The sky is clear and bright blue without a single cloud.",
    "A mottled brown toad squats low on the ground, its bumpy skin blending into the dirt. A tiny toy horse figurine stands a short distance away. Dry leaves and damp soil cover a shaded garden bed all around it.",
    "A bright green tree frog clings to a broad leaf with its orange toes spread wide. Out of focus in one corner, a small bird perches on a twig. The backdrop is a soft blur of dense tropical foliage.",
    "A red hatchback is parked at the curb with its front wheels turned slightly outward. A cat sits on the pavement next to the rear tyre. Brick townhouses and a row of bare trees line the street behind the car.",
    "A green-and-brown frog with a pale throat rests half submerged at the edge of a pond. A small rowing boat drifts far off on the water. Lily pads and reeds fill the background, reflected in the murky surface.",
    "A black-and-white kitten is stretched out along a windowsill, one paw dangling over the edge. Through the glass, a small airplane can be seen crossing the sky. Sunlight floods the room, and a potted plant sits on the ledge behind it.",
    "A sleek yellow sports car with black racing stripes is shown side-on in a paved lot. A pickup truck is parked farther back, mostly out of frame. The setting looks like an outdoor car show, with tents, flags and a hazy afternoon sky.",
    "A small single-engine light aircraft, white with a blue stripe, sits on a grass airstrip. A horse grazes beyond the fence at the far edge of the field. Rolling farmland and a line of trees stretch away under a cloudy sky.",
    "A big orange dump truck with a loaded bed rumbles along a gravel road. A dog trots along the shoulder just ahead of the front bumper. Behind it lies a dusty construction site with mounds of earth and grey clouds overhead.",
    "A golden retriever with a shaggy coat sits on the lawn, tongue out and looking cheerful. A little brown frog is hopping through the grass near its front paws. The backyard has a wooden fence and some flowering shrubs in the background.",
    "A chestnut horse with a white blaze stands in profile, its mane lifted by the wind. A small bird is perched on the top rail of the fence beside it. Behind it stretches an open green pasture with low hills in the distance.",
    "A blue articulated lorry hauling a long white trailer is parked at a roadside rest stop. A compact car is parked beside its cab, dwarfed by the big rig. Flat open fields and a wide pale sky extend beyond the lot.",
    "An old rust-streaked tanker lies at anchor, its long hull sitting low in the water. A tiny jet leaves a thin contrail high above it. The sea is choppy and dark blue, fading into a hazy horizon.",
    "A small black pug with a wrinkled face lies on a rug, its head resting on its paws. A cat peeks out from under a nearby sofa. The room is warmly lit, with wooden floorboards and a bookshelf against the wall.",
    "A dark bay pony wearing a saddle trots across a sandy riding arena. A small dog sits watching from beside the rail. White fencing, a stable block and a row of tall trees make up the background.",
    "A sleek white sailboat with its sails furled motors slowly through a marina. A red car can just be made out driving along the waterfront road. Moored yachts, stone quay walls and a clear summer sky fill the scene behind it.",
    "A plump olive-green bullfrog sits on a mossy rock with its throat puffed out. A deer stands far back among the trees, small and blurry. The setting is a shady forest stream lined with ferns and wet stones.",
]

# A third time, by another helper that saw no other descriptions, told only the form (the right object, a
# smaller object of another class, the scenery; three sentences) and to write as it naturally would.
CIFAR_DESCRIPTIONS_C = [
    "A gray tabby cat sits upright, staring straight at the camera with wide yellow eyes. Off to one side, a small bird perches on a windowsill. The background is a cozy living room with a patterned rug and soft lamplight.",
    "A large cargo ship with stacked containers steams slowly across the water. High above it, a tiny airplane crosses the sky. The scene is an open harbor under a hazy blue sky.",
    "A white passenger ferry is docked beside a concrete pier, its decks lined with railings. A small truck is parked near the edge of the pier. Calm gray water stretches out toward a distant shoreline.",
    "A silver jet airliner climbs steeply with its landing gear still down. Far below, a small car drives along a road at the edge of the airfield. The sky is bright and clear with a few thin clouds.",
    "A green frog squats on a damp rock, its throat puffed slightly. A small bird stands on a branch in the background. The setting is a muddy pond bank surrounded by reeds.",
    "A brown speckled frog sits half-submerged in shallow water, only its eyes and back showing. A dog can be seen sniffing along the bank a little way off. Lily pads and murky green water fill the rest of the frame.",
    "A red sedan is parked on a city street, shown from the front three-quarter angle. A small truck is visible further down the block. Tall buildings and a gray sidewalk form the backdrop.",
    "A plump toad-like frog rests on a bed of dry leaves, its skin bumpy and olive-brown. A small cat sits watching from the far corner of the frame. The ground is a shaded forest floor scattered with twigs.",
    "A black-and-white cat lies curled on a couch cushion, looking up lazily. A small toy horse figurine stands on the shelf behind it. The room is dimly lit with beige walls and a curtain.",
    "A blue hatchback drives along a winding country road. In a field beside the road, a horse grazes in the distance. Rolling green hills and a pale sky fill the background.",
    "A small propeller airplane sits on the tarmac with its nose pointed toward the camera. A fuel truck is parked a short distance behind it. The scene is a quiet rural airstrip with grass on either side.",
    "A big red fire truck is parked in front of a station, its chrome details gleaming. A small dog sits on the pavement near its front wheel. The background shows a brick building and an open garage door.",
    "A golden retriever sits on the grass with its tongue out, looking happy. A little bird hops on the lawn behind it. The scene is a sunny backyard with a wooden fence.",
    "A chestnut horse stands in a paddock, head turned slightly toward the viewer. A small deer can be seen at the edge of the trees behind the fence. The setting is an open pasture under an overcast sky.",
    "A white delivery truck is driving down a highway, seen from the side. A small car follows behind it in the next lane. The road is lined with trees and a guardrail under a clear sky.",
    "A sailboat with white sails glides across a choppy sea. A seabird flies low over the waves nearby. The horizon is a thin line where the blue water meets a cloudy sky.",
    "A small brown puppy lies on a wooden floor with its head resting on its paws. A cat sits in the background near a doorway. The room is warmly lit with a rug and some furniture partly visible.",
    "A white horse with a rider canters across a sandy arena. A pickup truck is parked just outside the arena fence. Bleachers and trees form the background under a bright sky.",
    "A rusty fishing boat is moored at a wooden dock, its hull weathered and dark. A small car is parked at the end of the dock. The water is calm and reflects the gray morning sky.",
    "A bright green tree frog clings to a leaf, its large eyes bulging. A tiny bird is perched on a branch in the upper corner. The background is a blur of dense tropical foliage.",
]
# A fourth time (sixth pass), by another helper that saw no other descriptions, told the form and to
# write naturally, varying its sentences.
CIFAR_DESCRIPTIONS_D = [
    "A grey tabby cat lies curled on a cushion, its green eyes half open as it watches the camera. Across the room, a little white dog naps on a folded blanket near the doorway. Soft afternoon light falls over a blue couch and a cluttered side table.",
    "A large white passenger ferry with a red stripe along its hull cruises across calm water. High above its bow, a lone seagull glides on the wind. The sky is hazy and grey, with a faint line of hills on the horizon.",
    "A white motor yacht is moored at a wooden pier, its cabin windows glinting in the sun. A small red pickup truck is parked at the far end of the dock. Behind it, a busy marina stretches out with masts of sailboats and a pale blue sky.",
    "A sleek white jet airliner banks gently with its landing gear tucked away, pictured on the cover of an old magazine. Printed near the corner is a tiny illustration of a horse galloping across a field. The backdrop is a pale green page with bold lettering across the top.",
    "A brown frog with mottled skin sits very still among blades of grass. A few feet behind it, a small sparrow hops through the weeds looking for seeds. The ground is damp and thick with green vegetation, suggesting the edge of a pond.",
    "A bumpy, orange-brown toad crouches low on a patch of reddish soil. Partly hidden behind a rock, a tabby cat peers toward it with curiosity. The scene is lit warmly, with fallen leaves and loose earth scattered around.",
    "A white compact car with dark tinted windows is displayed on a glossy showroom floor. On a shelf nearby sits a small model sailing ship. The background is dark with dramatic red and purple lighting typical of an auto show.",
    "A bright green tree frog clings to a broad leaf, its toe pads spread wide. Off to one side, a tiny toy airplane rests on the windowsill of the terrarium room. The glass enclosure is filled with moss, ferns and a faint mist.",
    "A fluffy cream-colored kitten sits upright, gazing sideways with pale eyes. Outside the window behind it, a deer can be seen grazing at the edge of the lawn. The room is bright and airy, with light curtains and a soft, washed-out glow.",
    "A black off-road SUV with a roof rack and chunky tires is parked on a gravel track. A horse stands in a paddock some distance behind the vehicle. Dense green trees and shrubs surround the clearing under an overcast sky.",
    "A grey fighter jet streaks upward with its wings swept back and its nose pointed toward the clouds. Far below, a small cargo ship is visible on the sea as a tiny speck. The sky is a pale, hazy blue with no other aircraft in sight.",
    "A white garbage truck with a blue stripe is parked on a city street, its rear compactor closed. Near the curb, a pigeon pecks at crumbs on the pavement. Old red-brick buildings and a row of windows line the street behind it.",
    "A brown and white puppy with floppy ears sits on someone's lap, looking to the side. On the blanket beside it lies a small plush toy cat. The setting is a cozy living room with a dim, blurred background.",
    "A pale grey horse stands alert in a paddock, its mane falling over its neck. In the shadows near the fence, a black cat slips between the posts. The background is dark, with trees and a stable barely visible in the evening light.",
    "A blue dump truck with a big boxy cargo bed is parked on a construction site. A small white car is stopped on the road just behind it. Leafless trees and a grey, overcast sky fill the background.",
    "A green and white fishing boat cuts through turquoise water, leaving a foamy wake behind it. Above the deck, a gull circles close to the mast hoping for scraps. The sea is calm and bright under strong sunlight, with no shore in view.",
    "A beagle puppy with a white blaze and tan ears looks straight at the camera with dark, soulful eyes. In the corner of the frame, a red toy truck lies on its side on the floor. The background is a soft blur of a wooden floor and a grey wall.",
    "A chestnut horse wearing a leather halter turns its head toward the viewer. Behind the fence, a small dog trots along the path. Green hedges and a pale sky form the backdrop of the stable yard.",
    "A weathered wooden sailing ship with tall masts and rigging is anchored in a harbor. A small jet airplane passes high overhead, leaving a faint trail. The water is grey and still, and the misty sky blends into the distant shoreline.",
    "A speckled olive-green frog rests on a flat stone, its throat puffed slightly. A tiny brown bird perches on a reed a short distance away. Murky water and tangled vegetation surround the rock in the shade of a riverbank.",
]
# A fifth time (tenth pass), by another helper that saw no other descriptions, told the form and to write
# naturally; measured as held out (no lever was changed after it was written).
CIFAR_DESCRIPTIONS_E = [
    "A grey tabby cat crouches on a rumpled blue blanket, its head turned sharply toward the camera. Behind it, a little toy airplane sits on a shelf, partly hidden in shadow. The wall in the background is a warm mustard-orange colour.",
    "This is a sleek white motor yacht with a navy and red stripe along its hull, seen almost side-on. Farther back on the quay, a small delivery truck is parked near the terminal building. A pale, overcast sky fills the upper half of the frame.",
    "The picture shows a white cabin cruiser moored tightly among other boats, its bow pointed toward the viewer. A small dog stands on the wooden pier beside it, barely visible. Tall masts rise against a soft pink evening sky over the marina.",
    "A Concorde jet with its distinctive drooped nose is shown in profile on a large advertising board with red lettering. Below the sign, a compact car is parked at the edge of the frame. The setting looks like an airport forecourt under a flat, grey sky.",
    "Sitting among the grass, a brown, warty toad looks out with its body hunched low. In the upper corner, a tiny sparrow perches on a bent stem. Dense green blades and dark leaves surround the scene, giving it a damp, shaded garden feel.",
    "Close to the ground, a mottled tan frog sprawls with its legs spread wide. A tabby cat watches it from the blurred edge of the picture. The surface underneath is reddish-brown soil, and the lighting is warm and somewhat dim.",
    "A white compact hatchback is on display with its doors swung open, showing the dark interior. On the wall behind hangs a poster of a prancing horse. The backdrop is a glowing red-orange showroom, suggesting an auto show stand.",
    "In this close-up, a bright green tree frog clings to a smooth surface, its round body tilted slightly upward. Off to the left rests a small toy sailboat. The background is blurry beige and grey, like an indoor windowsill lit by daylight.",
    "A pale cream-and-grey tabby cat peers at the camera from very close, its ears perked. Curled up on the cushion behind it is a sleeping dog, mostly out of focus. The room is softly lit, with hazy light-green and brown tones.",
    "Head-on, a dark blue SUV with a chrome grille and a white licence plate fills most of the frame. At the roadside, a deer stands half-hidden among the snowy shrubs. Everything around the vehicle is pale and washed out, like a winter day.",
    "A white fighter jet banks steeply with its underside and tail fins facing the viewer. Far off, a single bird glides past as a tiny speck. The rest of the image is a clear, even blue sky with no clouds.",
    "There is a silver box truck with an orange logo on its side parked on a paved lot, viewed from the front corner. Next to it, a small hatchback car is just visible. Behind them stands an old red-brick building with pointed gables against a white sky.",
    "A brown-and-white spaniel stands in profile, looking back over its shoulder. Sitting quietly in the background, a black cat watches from the shadows. The scene is an outdoor yard with a patch of green grass and dark, leafy bushes.",
    "Here a white Arabian horse stands alert, neck arched and tail held high. A small dog trots near its hooves in the lower corner. The setting is a dim paddock with dark trees behind, making the pale coat stand out sharply.",
    "A large blue dump truck with a tall exhaust stack and a white front bumper is parked on dusty ground. On top of the cab perches a small bird. A yellow building and a pale sky show at the top of the frame.",
    "Seen from above, a speedboat carves through the water, leaving a bright white wake behind it. A small plane flies low overhead, its shadow just crossing the waves. The sea around the boat is a deep emerald green.",
    "A floppy-eared puppy with a chestnut and white coat, possibly a springer spaniel, rests its chin on someone's arm. Beside it lies a small stuffed toy frog. The background is dark and indistinct, typical of an indoor snapshot.",
    "This close-up shows the head of a bay horse wearing a worn leather halter, its face turned toward the camera. Behind it, a big flatbed lorry is parked at the edge of the yard. Pale trees and a bright sky fill the blurred background.",
    "An old wooden sailing ship with a dark hull and tall masts sits low in the harbor water. On the distant shore, a horse pulls a small cart along the quay. The sky is hazy white, and the water in front is dark and still.",
    "Perched on leaf litter, a yellowish-olive frog with dark markings sits in profile. Far back through a gap in the undergrowth, a young deer can be made out. The ground is a tangle of brown, dry leaves and twigs in dim light.",
]
# A sixth and a seventh time (thirteenth pass), by two more helpers that saw no other descriptions, written after
# label_kinds was built and measured as held out (no lever was changed after they were written).
CIFAR_DESCRIPTIONS_F = [
    "A grey tabby cat is curled up on someone's lap, licking its paw with its head tucked down. A tiny toy airplane lies on the denim fabric just beside its tail. The background is a warm orange wall in a cozy indoor room.",
    "A sleek white motor yacht with a navy hull and a red stripe along the waterline cruises across the frame. Off to one side, a seagull glides low over the water. Behind it stretches a pale, washed-out sky above a hazy harbor.",
    "A white sport cruiser with tinted cabin windows sits moored at a marina berth. On the quay in the background, a small pickup truck is parked near the dock. Rows of sailboat masts rise against a soft dusk sky.",
    "A Concorde supersonic airliner with its distinctive drooped nose is pictured in profile on the cover of a book. Near the bottom corner of the cover, a small sailboat is printed as part of the design. The backdrop is a pale grey-white sky beneath red title lettering.",
    "A brown common frog with a mottled back crouches among the stems. A little sparrow perches on a bent blade of grass a short distance away. The scene is a dense thicket of tall green grass and leaves.",
    "A warty reddish-brown toad squats low on the ground, its front legs splayed. Far off at the edge of the frame, a deer can be seen grazing. The surroundings are dry, rusty-red earth and sandy soil.",
    "A white compact hatchback is shown with both of its front doors swung open. A small model airplane hangs from the ceiling above it. The car stands in a studio with a bright red backdrop and a dark floor.",
    "A bright green tree frog clings to the edge of a window ledge. Behind the glass, a cat watches it with curiosity. The background is a white window frame with a dim interior beyond.",
    "A silver-grey kitten with white markings lounges on a soft cream blanket, looking up sleepily. A small plastic toy horse sits on the blanket next to it. The setting is a pale, softly lit bedroom.",
    "A dark blue four-by-four SUV with a chrome grille is parked facing the camera. In a paddock off to the side, a horse stands by the fence. The scene is a bright, wintry roadside with pale sky and bare shrubs.",
    "A grey twin-tailed fighter jet banks sharply through the air with its wings swept back. Far in the distance, a single bird is flying. The background is a clear, hazy blue sky.",
    "A white box delivery lorry with an orange logo on its side is parked on the street. A small dog trots along the pavement in front of it. Behind it stands a large red-brick Victorian building.",
    "A brown-and-white Jack Russell terrier is being petted by a person's hand. A tabby cat sits watching from the shadows nearby. The background is a patch of lawn with dark green shrubbery.",
    "A white Arabian horse trots gracefully, its tail held high. A small dog runs along at its heels. The background is a dark, shadowy stable yard.",
    "A blue heavy-duty semi truck hauling a tall box trailer is stopped on a gravel lot. A small hatchback car is parked beside its cab. In the background, a flat yellow field stretches under an overcast sky.",
    "A white fishing trawler plows through choppy water, leaving a foamy wake behind it. High above, a small seaplane passes overhead. The scene is a deep green sea whipped into waves.",
    "A floppy-eared brown-and-white spaniel puppy is cradled in someone's arms. A tiny green frog figurine rests on the person's sleeve nearby. The background is dark clothing and a dim indoor room.",
    "A chestnut horse wearing a leather halter is shown in a close-up of its head and neck. Behind it, a horse trailer truck is parked at the edge of the arena. The setting is a pale, sandy riding ground on a bright day.",
    "An old wooden sailing vessel crowded with passengers on deck floats on calm water. A small airplane is visible high in the sky above its masts. The background is a hazy harbor with a distant shoreline.",
    "A yellow-green spotted frog sits hunched on the forest floor. Among the trees farther back, a young deer peers out. The scene is dim woodland covered in brown leaf litter.",
]

CIFAR_DESCRIPTIONS_G = [
    "A grey tabby with striped fur and a pale muzzle peers sideways at the camera, ears pricked. On a shelf behind it sits a little toy airplane with red wings. The backdrop is a soft blue wall under cool indoor light.",
    "A large white passenger ferry with a dark hull cuts across calm water toward the viewer. Far off by the shoreline, a delivery truck crawls along a coastal road. Hazy grey sky and misty hills fill the background.",
    "Moored among other boats is a sleek white motor yacht, its cabin windows tinted dark. A seagull perches on a wooden piling close to its stern. Masts and rigging crowd the deep blue evening sky over the marina.",
    "Across the top of a printed poster, a long-nosed jetliner streaks through a pale sky. Down in one corner, a small vintage roadster is drawn beside the title lettering. The page is cream-coloured with bold dark text spread across it.",
    "Squatting among leafy green stems, a plump brown frog shows off its speckled, damp skin. In the blurred distance a dog sniffs along the edge of the garden bed. Dense foliage and dappled daylight surround the scene.",
    "A warty reddish-brown toad sits hunched on bare earth, golden eyes half closed. A little way behind it, a toy pickup truck lies half-buried in the dirt. Warm, low sunlight gives the whole patch of soil a rusty glow.",
    "Displayed on a turntable, a compact white hatchback shows off its glossy roof and black sporty wheels. A scale model of a sailing ship sits in a glass case near the edge of the stand. Dramatic spotlights cut through the darkness of the exhibition hall.",
    "Clinging to a broad leaf, a bright green tree frog spreads its sticky toe pads wide. Behind the potted plant, a tabby kitten watches from the windowsill. Everything else melts into a blur of grey stone and muted daylight.",
    "A pale cream-and-grey kitten with wide, round eyes stares straight into the lens. Next to it on the table stands a small ceramic horse figurine. Soft window light washes the room in pastel greens and whites.",
    "Parked on a gravel track is a black Jeep-style off-roader with chunky tyres and a bar of roof spotlights. A deer watches warily from the tree line behind it. Thick green bushes and overcast daylight frame the shot.",
    "A grey fighter jet banks hard, its twin tail fins and swept wings sharply outlined. Far below, a tiny cargo ship leaves a thin wake across the sea. The sky around it is a flat, bright haze of pale blue.",
    "A white refuse lorry with a blue stripe idles at the kerb, its boxy compactor body towering behind the cab. Trotting along the pavement near its front wheel is a small terrier. Red-brick terraced houses and a washed-out sky line the street.",
    "Stretched out on a couch cushion, a white-and-tan Jack Russell terrier turns its head to one side. Curled up in the far corner of the couch is a small grey cat. Warm lamplight falls across the cluttered living room.",
    "A grey-white Arabian stands in profile, its mane falling over a proudly arched neck. A black dog sits quietly by the fence post to its left. The shadowy paddock behind fades into deep green darkness.",
    "This blue Volvo dump truck, with its tall steel tipper body, is parked on a construction lot. Beside its rear wheels sits a small red hatchback. Bright midday sun and a clear sky light up the whole yard.",
    "Seen from above, a green-hulled fishing trawler ploughs through choppy turquoise water, leaving a frothy wake. A light seaplane circles high over its bow. The surrounding sea glitters under strong sunshine.",
    "A brown-and-white beagle puppy gazes upward with soulful dark eyes, one floppy ear folded back. By its paw, a little green frog squats on the floor tile. The background is a plain, softly lit grey wall.",
    "Wearing a leather bridle, a chestnut horse turns its head toward the camera with ears pricked forward. Past its shoulder, a silver sedan is parked by the stable gate. Leafy trees and cloudy daylight blur softly behind.",
    "An old wooden junk with a patched hull and tall bare masts rides at anchor. A pelican drifts on the water just off its bow. The pale, overcast harbour sky leaves the whole scene washed out and grey.",
    "Crouched low in the grass, a mottled olive-green bullfrog puffs its throat slightly. Far across the meadow, a young deer grazes at the edge of the woods. Earthy browns and soft morning light fill the frame.",
]

# An eighth time, by a third helper, written and measured after the thirteenth pass's second rule (categories too
# general yield) was built: held out.
CIFAR_DESCRIPTIONS_H = [
    "A gray tabby kitten is curled up on someone's lap, peering out with wide, watchful eyes. Off to one side, a little toy pickup truck rests on the fold of the blanket. The background is a warm orange wall above rumpled blue denim.",
    "A sleek white passenger ferry with a blue and red striped hull sits moored at the pier. A seagull is perched on a railing near its bow. The setting is a pale, overcast sky over a gray concrete quay.",
    "A white motor yacht with a dark windshield is tied up alongside the dock. A small brown dog stands on the planks beside it, looking toward the water. Behind it, a forest of sailboat masts fills a busy marina under a hazy sky.",
    "A supersonic jetliner with a long pointed nose and swept delta wings is pictured on the cover of a book. A tiny drawing of a sailboat appears down in one corner of the page. The backdrop is a pale printed cover with bold red lettering across the top.",
    "A mottled brown toad sits still among the blades of tall grass. A small wren is perched on a stalk just above it. The scene is a lush tangle of green leaves and stems.",
    "A plump reddish-brown frog crouches low on the ground with its legs tucked beneath it. A tiny toy car lies tipped over in the dirt nearby. The surroundings are a patch of rusty red soil and dry debris.",
    "A white hatchback with its doors swung wide open is parked with its interior on display. A small model airplane hangs from the ceiling above it. The backdrop is a glossy bright red wall, like a showroom or exhibition stand.",
    "A bright green tree frog clings to a smooth gray branch. Far behind it, a young deer is faintly visible through the blurry greenery. The background is a soft wash of muted greens and grays.",
    "A silver tabby cat lounges on its side, gazing up toward the camera. A little horse figurine stands on the shelf behind it. The setting is a cozy room with pale green cushions and soft light.",
    "A dark blue sport utility vehicle with chunky tires is shown from the front. A small dog sits in the snow a few steps away from its bumper. The setting is a bright, wintry landscape washed out in white and pale lavender.",
    "A gray-white fighter jet banks sharply across the frame with its wings swept back. A lone bird glides near the lower edge of the picture. The background is a clear, even blue sky.",
    "A white box lorry with a red-trimmed cab is parked on a city street. A compact sedan is pulled up at the curb behind it. Red brick buildings with ornate rooftops line the background.",
    "A brown and white puppy stands on a lap, its floppy ears hanging down. A tabby kitten peeks out from behind a cushion in the corner. The setting is a casual indoor scene with dark leafy patterns in the background.",
    "A white stallion prances with one foreleg raised and its mane flowing. A small dog trots along the edge of the arena nearby. The background is dark and shadowy, making the pale horse stand out.",
    "A big blue dump truck with a tall steel bed is parked in a lot. A brown pony grazes in a small paddock across the road. The setting is an overcast day with a yellow building off to the left.",
    "A small fishing boat plows through choppy water, throwing up white spray. A tiny jet is visible high in the sky above the waves. The scene is a churning, deep green sea.",
    "A fluffy puppy with chestnut ears and a white face is cradled in someone's arms. A tabby cat lounges on a chair in the background. The setting is an indoor room with dark clothing and dim lighting.",
    "A chestnut horse wearing a leather bridle is shown in a close-up of its head. A small car is parked on the road far behind it. The background is a pale sky with a line of soft, hazy trees.",
    "A crowded wooden boat packed with people floats low in the water. A delivery truck waits on the distant shoreline. The backdrop is a hazy white sky over calm, dark water.",
    "A yellow-green frog with dark spots sits hunched on a bed of dry leaves. A little sparrow hops along the ground a short distance away. The surroundings are a shadowy forest floor in earthy browns.",
]

# An eighth and a ninth time (fourteenth pass), by one more helper that saw no other description, written after
# category_kinds, the kinds' share bound and label_example were built, and measured as held out.
CIFAR_DESCRIPTIONS_I = [
    "A grey tabby cat lies curled on a rumpled blue blanket, its head turned toward the camera. A tiny toy airplane sits on a shelf in the upper corner. The wall behind is a warm mustard yellow under soft indoor light.",
    "Here is a large white passenger ferry with a navy hull and a red stripe along its bow. A single seagull glides far overhead, barely a speck in the sky. The background is a pale, overcast sky that washes the scene in flat grey light.",
    "Moored in a crowded marina, a sleek white motor yacht fills most of the frame. A small delivery truck is parked on the quay in the far left corner. Masts of other boats rise against a dusky evening sky with fading pinkish light.",
    "A dark model of a supersonic jet, resembling the Concorde, is shown in side profile beneath a red-lettered banner. A miniature toy car rests at the bottom edge of the display stand. The backdrop is a plain white board lit by even exhibition lighting.",
    "Sitting among tall blades of grass, a mottled brown toad faces the camera. In the blurred background a small sparrow perches on a stalk. Bright green leaves surround it in soft daylight.",
    "This close-up shows a chunky orange-brown toad squatting low on the ground. A little plastic toy truck lies half buried in the bottom corner. The soil is reddish and dusty under warm, direct sunlight.",
    "A white compact hatchback is parked at an angle with its doors flung open. On the back wall hangs a small framed picture of a sailing ship. The setting is a car showroom with a bright red backdrop and strong studio lights.",
    "Clinging to a wooden ledge, a bright green tree frog shows its smooth back and long legs. A tiny ceramic cat figurine sits out of focus on the windowsill behind it. Muted brown and grey tones fill the background in dim indoor light.",
    "A silver-grey cat peers up at the camera, its face and chest filling the frame. A small toy bird dangles from a string in the top corner. The background is a pale, washed-out room lit by diffuse window light.",
    "A dark blue SUV is seen head-on, its chrome grille catching the light. Far behind, a deer stands at the edge of a snowy treeline. The scene is white and wintry under a bright overcast sky.",
    "Banking sharply, a white fighter jet shows its swept wings and tail fins against the sky. A lone bird flaps in the lower corner far below. Clear steel-blue sky fills the frame with crisp midday light.",
    "A white box truck with an orange logo on its side is parked on a city street. A small terrier waits on the pavement near the front wheel. Red brick buildings line the background under flat, cloudy daylight.",
    "Standing on a lawn, a white dog with tan patches looks off to the left. A tabby cat sits on a garden wall far in the background. Green grass and a shady hedge surround it in mottled afternoon light.",
    "A white horse stands in profile, its mane and long legs stark against the shadows. A small black dog is just visible lying in the dark near its hooves. Dense dark trees form the background in dim, low light.",
    "Parked in a yard, a blue cab-over lorry shows its big chrome grille and high cab. A little red hatchback is parked behind it in the distance. A yellow building and a grey sky sit behind it in overcast daylight.",
    "A white speedboat cuts across the water, leaving a foamy wake behind. A small plane passes high overhead in the top corner. The sea is a deep emerald green shimmering under bright sunshine.",
    "A brown-and-white spaniel puppy gazes at the camera with soft, droopy ears. A sleeping kitten is curled up in the dark corner behind it. The background is a deep shadowy blue with gentle indoor light.",
    "Shown in close-up, a chestnut horse wears a blue patterned halter across its face. A small sheepdog leans against the fence rail in the distance. Leafy trees and a pale sky fill the background in soft daylight.",
    "An old wooden sailing ship with tall masts lies anchored in a harbour. A tiny airplane is visible high in the sky above the rigging. The water is calm and dark beneath a bright, hazy white sky.",
    "A yellow-green frog with a speckled back sits hunched among dead leaves. A small wren hops in the shadowy top corner of the frame. Brown leaf litter and moss cover the ground in dappled forest light.",
]

CIFAR_DESCRIPTIONS_J = [
    "Stretched out on a blue cloth, a striped grey kitty raises one paw lazily. A little ceramic frog ornament sits on a side table in the corner. Behind it the ochre wall glows in warm lamplight.",
    "The picture shows a blue and white cruise ship cruising past, its red waterline visible near the bow. A jet airliner is a faint dot in the distant sky. Hazy grey-white weather gives the scene a cool, diffuse light.",
    "A white cabin cruiser sits in its berth, its windshield and rails glinting. On the neighbouring dock a small brown dog stands watching. A forest of sailboat masts stands against a pastel sunset sky.",
    "On display is a slender delta-wing airliner with a drooping nose, pictured from the side. A little sparrow perches on the top edge of the sign above it. The setting is a bright museum wall with a white placard and even lighting.",
    "A speckled brown frog hides in a clump of lush grass, eyes alert. Far off at the edge of the meadow a deer grazes, tiny and blurred. Green foliage glows in gentle morning light.",
    "Low to the ground, a plump tawny toad rests with its legs tucked under it. A small toy horse lies tipped over at the edge of the frame. Red clay earth fills the scene under harsh sunlight.",
    "Doors wide open, a small white hatchback car is displayed on a glossy floor. A poster of a galloping horse hangs in a far corner of the room. The space is lit by vivid red walls and bright spotlights.",
    "Perched on a branch near a window, a lime-green frog stretches out its body. A model sailboat sits on a shelf in the blurry background. The room is in soft brownish shade with diffuse light.",
    "Close to the lens, a pale grey shorthair cat tilts its head curiously. A framed painting of a deer hangs small on the wall behind it. The room is bright and creamy with soft daylight.",
    "Facing the viewer, a navy four-by-four sits on a snow-covered road. A pickup truck is a small shape far down the road behind it. Snowy white surroundings reflect a cold, pale light.",
    "Seen from below, a pale grey military jet climbs with its wings spread. A tiny ship is visible on the sea far beneath it in the corner. The sky is an even, cloudless blue in strong sunlight.",
    "Parked at the kerb, a white delivery lorry with a square cargo box faces forward. A silver sedan is parked a little way behind it. Old brick townhouses form the backdrop under dull grey skies.",
    "A tan and white terrier-type dog stands side-on on the grass, tail relaxed. A small robin hops on the lawn in the background. Garden greenery and dappled shade surround the scene on a sunny afternoon.",
    "Against dark woods, a grey-white mare stands tall with her head raised. Far in the background a horse trailer truck is parked by the gate. The trees are deep black-green under dim evening light.",
    "A big blue truck with a flat cab and bulky front bumper fills the frame. A pigeon perches on the roof of the yellow building behind it. Cloudy skies give the scene a flat, even light.",
    "Racing over green water, a small motor launch sends white spray to either side. A gull wheels in the top corner of the frame. The water is a bright jade colour in glaring sun.",
    "With big brown eyes and floppy ears, a white-and-chestnut puppy looks straight out. A toy car lies on the floor in the background corner. Dark navy fabric behind it is lit by soft indoor light.",
    "A bay horse fills the frame, its bridle and noseband clearly visible. A grey cat sits on a fence post far behind its ear. The background is a sunny paddock with blurred trees and sky.",
    "With several tall masts, a traditional wooden ship floats at a harbour wall. A small car is parked on the quayside at the far right. A bright, hazy sky reflects off calm dark water.",
    "Among dry leaves sits a greenish-yellow frog, its throat puffed and eyes bulging. A little toy deer is tucked into the leaves in the far corner. The forest floor is brown and mossy under shadowy light.",
]

CIFAR_VARIANTS = {"": CIFAR_DESCRIPTIONS, "b": CIFAR_DESCRIPTIONS_B, "c": CIFAR_DESCRIPTIONS_C, "d": CIFAR_DESCRIPTIONS_D,
                  "e": CIFAR_DESCRIPTIONS_E, "f": CIFAR_DESCRIPTIONS_F, "g": CIFAR_DESCRIPTIONS_G,
                  "h": CIFAR_DESCRIPTIONS_H, "i": CIFAR_DESCRIPTIONS_I, "j": CIFAR_DESCRIPTIONS_J}


def pixel_key(image: Any) -> str:
    """Key of an image by its pixels (what the VLM receives), so the stand-in finds its description."""
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()


class StandInVLM(BaseChatModel):
    """A stand-in for the VLM in this bench only: returns the stored description of the image it is shown
    (matched by pixels). Never a product default; the text half (Steps 2a, 2b, 3) is what is measured."""

    by_pixels: dict[str, str] = {}

    @property
    def _llm_type(self) -> str:
        return "stand-in-descriptions"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        from ictc.core.images import data_uri_to_image

        blocks = [b for m in messages if not isinstance(m.content, str) for b in m.content
                  if isinstance(b, dict) and b.get("type") == "image_url"]
        text = self.by_pixels[pixel_key(data_uri_to_image(blocks[0]["image_url"]["url"]))]
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])


def stand_in_vlm(sets: list[TextSet]) -> StandInVLM:
    from ictc.core.images import load_rgb

    return StandInVLM(by_pixels={pixel_key(load_rgb(p, 512)): s.descriptions[p] for s in sets for p in s.paths})


def emoji_set(folder: Path, per_class: int = 8, seed: int = 0, articles: bool = False) -> TextSet:
    """`per_class` emoji per category, chosen with a fixed seed; the description is the Unicode name as a
    caption ("Goat."); each gets a distinct small noise image so no two are deduplicated.

    `articles`: the captions in the issue's held-out form, "A goat.", "An ox." ("a"/"an" by the first letter;
    none before a plural: "Jeans."); the set is then named "emoji-articled-N"."""
    import numpy as np
    from PIL import Image

    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, truth, descriptions = [], {}, {}
    for category, ranges in EMOJI_RANGES.items():
        names = [unicodedata.name(chr(c)) for lo, hi in ranges for c in range(lo, hi + 1)
                 if unicodedata.name(chr(c), "") and not unicodedata.name(chr(c)).endswith((" FACE", "PAW PRINTS"))]
        for name in rng.sample(names, min(per_class, len(names))):
            path = folder / f"{category}-{name.lower().replace(' ', '_')}.png"
            if not path.exists():
                # other pixels for the articled captions: the step cache and the stand-in VLM know images by content
                seed_of = int(hashlib.sha256(("articled " * articles + name).encode()).hexdigest()[:8], 16)
                pixels = np.random.default_rng(seed_of).integers(0, 255, (24, 24, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(path)
            paths.append(str(path))
            truth[str(path)] = category
            descriptions[str(path)] = (with_article(name.lower()) if articles else name.capitalize()) + "."
    return TextSet(f"emoji-{'articled-' if articles else ''}{len(paths)}", "kind of thing", len(EMOJI_RANGES), paths, truth, descriptions)


# WordNet 3.0 (Princeton University, https://wordnet.princeton.edu; the Debian package wordnet-base installs it
# in /usr/share/wordnet, `apt-get install wordnet-base`): nouns under six roots, by synset offset in data.noun.
WORDNET = Path("/usr/share/wordnet")
WORDNET_ROOTS = {"animals": "00015388",  # animal, animate being, beast, brute, creature, fauna
                 "food": "07555863",  # food, solid food
                 "plants": "00017222",  # plant, flora, plant life
                 "vehicles": "04524313",  # vehicle
                 "clothes": "03051540",  # clothing, article of clothing, vesture, wear
                 "sports": "04285146"}  # sports equipment


def _first_sense_counts() -> dict[str, int]:
    """Lemma -> how often its most frequent noun sense was tagged in WordNet's corpus (cntlist.rev: sense key,
    sense number, tag count); how common the word is in text."""
    counts: dict[str, int] = {}
    for line in (WORDNET / "cntlist.rev").read_text(encoding="latin-1").splitlines():
        key, number, count = line.split()
        lemma, sense = key.split("%", 1)
        if sense.startswith("1:") and number == "1":
            counts[lemma] = int(count)
    return counts


def _wordnet_nouns() -> tuple[dict[str, tuple[str, list[str]]], dict[str, list[str]]]:
    """data.noun as {offset: (first lemma, hyponym offsets)} and index.noun as {lemma: offsets of its senses,
    most frequent first, only the senses seen in the tagged corpus (tagsense_cnt)}."""
    synsets: dict[str, tuple[str, list[str]]] = {}
    for line in (WORDNET / "data.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split(" | ")[0].split()
        n_words = int(fields[3], 16)
        lemma = fields[4]
        at = 4 + 2 * n_words
        pointers = fields[at + 1:at + 1 + 4 * int(fields[at])]
        synsets[fields[0]] = (lemma, [pointers[i + 1] for i in range(0, len(pointers), 4) if pointers[i] == "~"])
    senses: dict[str, list[str]] = {}
    for line in (WORDNET / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith(" "):
            continue
        fields = line.split()
        tagged = int(fields[5 + int(fields[3])])
        senses[fields[0]] = fields[-int(fields[2]):][:tagged]
    return synsets, senses


def with_article(text: str) -> str:
    """`text` ("goat", lower case) as a caption starts: "A goat", "An ox", "An umbrella" but "A unicycle"; a plural
    ("jeans", "womans boots": last word ending in s, not ss or us) takes none and is capitalized."""
    if text.endswith("s") and not text.endswith(("ss", "us")):
        return text.capitalize()
    an = text[0] in "aeio" or (text[0] == "u" and not text.startswith("uni"))
    return ("An " if an else "A ") + text


def wordnet_set(folder: Path, per_class: int = 8, seed: int = 0, common: bool = False) -> TextSet | None:
    """`per_class` WordNet nouns per root of WORDNET_ROOTS, as one-line captions ("A goat.", "A sweater."):
    the first lemma of a hyponym synset (at any depth) that is that word's most frequent tagged sense, so
    the word alone means the thing ("goat", not "hack" for a horse); none under two roots. Chosen with a
    fixed seed; None when WordNet is not installed.

    `common`: only words whose first sense was tagged at least twice in WordNet's corpus (the words a person
    captioning a picture of a common thing would use: "a goat", not "a mackinaw"); the set is then named
    "wordnet-common-N". WordNet's sports equipment keeps its few odd members (barbell, mound, third base)."""
    import numpy as np
    from PIL import Image

    if not (WORDNET / "data.noun").is_file():
        return None
    synsets, senses = _wordnet_nouns()
    below: dict[str, set[str]] = {}
    for category, root in WORDNET_ROOTS.items():
        seen, todo = set(), [root]
        while todo:
            offset = todo.pop()
            if offset not in seen:
                seen.add(offset)
                todo += synsets[offset][1]
        below[category] = seen - {root}
    counts = _first_sense_counts() if common else {}
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, truth, descriptions = [], {}, {}
    for category, offsets in below.items():
        others = set().union(*(v for k, v in below.items() if k != category))
        words = sorted({synsets[o][0] for o in offsets - others
                        if (senses.get(synsets[o][0].lower()) or [""])[0] == o and synsets[o][0].islower()
                        and (not common or counts.get(synsets[o][0], 0) >= 2)})
        for word in rng.sample(words, min(per_class, len(words))):
            text = word.replace("_", " ")
            path = folder / f"{category}-{word}.png"
            if not path.exists():
                seed_of = int(hashlib.sha256(word.encode()).hexdigest()[:8], 16)
                Image.fromarray(np.random.default_rng(seed_of).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(path)
            paths.append(str(path))
            truth[str(path)] = category
            descriptions[str(path)] = with_article(text) + "."
    return TextSet(f"wordnet-{'common-' if common else ''}{len(paths)}", "kind of thing", len(WORDNET_ROOTS), paths, truth, descriptions)


def cifar_set(variant: str = "") -> TextSet:
    """The 20 CIFAR-10 samples with the descriptions of CIFAR_VARIANTS[`variant`]: "" is "cifar10-20-rich"; "b" to
    "j" are "cifar10-20-rich-b" to "-j", on copies of the photos with one pixel changed (a different one per
    variant), in a temp folder, so the stand-in VLM, which finds a description by pixels, tells the sets apart."""
    import numpy as np
    from PIL import Image

    from ictc.evaluation.labels import read_labels

    folder = SAMPLES if SAMPLES.is_dir() else FALLBACK_SAMPLES
    labels = read_labels(folder / "labels.csv")
    paths = sorted(str(p) for p in folder.glob("*.png"))
    truth = {p: next(v for k, v in labels.items() if Path(k).name == Path(p).name) for p in paths}
    if not variant:
        return TextSet("cifar10-20-rich", "object", len(set(truth.values())), paths, truth,
                       dict(zip(paths, CIFAR_DESCRIPTIONS, strict=True)))
    copies = Path(tempfile.gettempdir()) / f"ictc-bench-cifar-{variant}"
    copies.mkdir(parents=True, exist_ok=True)
    for path in paths:
        pixels = np.array(Image.open(path).convert("RGB"))
        pixels[0, 0] ^= list(CIFAR_VARIANTS).index(variant)  # b: 1, c: 2 (never 0: the original's pixels)
        Image.fromarray(pixels).save(copies / Path(path).name)
    truth = {str(copies / Path(p).name): v for p, v in truth.items()}
    return TextSet(f"cifar10-20-rich-{variant}", "object", len(set(truth.values())), list(truth), truth,
                   dict(zip(truth, CIFAR_VARIANTS[variant], strict=True)))


def all_sets(per_class: int = 8, seed: int = 0) -> list[TextSet]:
    """The bench's sets: cifar10-20-rich, -b to -h, emoji-(6 x per_class), emoji-articled-(6 x per_class) and, when WordNet is installed, wordnet-(6 x
    per_class) and wordnet-common-(6 x per_class); the emoji and WordNet words drawn with `seed` (another seed gives other words of the same kinds,
    named with an "-s<seed>" suffix)."""
    folder = Path(tempfile.gettempdir())
    suffix = f"-s{seed}" if seed else ""
    wordnet = [wordnet_set(folder / f"ictc-bench-wordnet{'-common' * common}{suffix}", per_class, seed, common)
               for common in (False, True)]
    sets = [emoji_set(folder / f"ictc-bench-emoji{suffix}", per_class, seed),
            emoji_set(folder / f"ictc-bench-emoji-articled{suffix}", per_class, seed, articles=True),
            *(w for w in wordnet if w)]
    for drawn in sets:
        drawn.name += suffix
    return [cifar_set(), *(cifar_set(variant) for variant in "bcdefghij"), *sets]
