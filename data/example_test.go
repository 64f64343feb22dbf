package data_test

import (
	"fmt"

	"veil/data"
)

func ExampleLoad() {
	// A directory with one IDX images file and one IDX labels file.
	ds, err := data.Load("../testdata/data/fashion-mnist/test", data.Options{Limit: 2})
	if err != nil {
		panic(err)
	}
	s := ds.Samples[0]
	fmt.Println(ds.Count(), s.H, s.W, s.C, s.Label)

	// The digits CSV stores values 0..16.
	digits, err := data.Load("../testdata/data/digits/test.csv", data.Options{PixelMax: 16})
	if err != nil {
		panic(err)
	}
	fmt.Println(digits.Count(), digits.Samples[0].H, digits.Samples[0].Label)

	// An image folder, converted to 3 channels and resized, as an ImageNet
	// model would want it.
	imgs, err := data.Load("../testdata/data/fashion-png", data.Options{
		Channels: 3, Resize: [2]int{32, 32},
		Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225},
	})
	if err != nil {
		panic(err)
	}
	h, w, c, _ := imgs.Shape()
	fmt.Println(imgs.Count(), h, w, c, imgs.Samples[len(imgs.Samples)-1].Label)
	// Output:
	// 2 28 28 1 9
	// 397 8 0
	// 50 32 32 3 9
}
